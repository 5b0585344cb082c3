"""Reserved for the NequIP trainer plugin (issue 8); it registers nothing yet."""
