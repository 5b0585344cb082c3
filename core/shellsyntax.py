"""What a shell would read in a trainer's command, which no shell reads.

A training runs as an argument list, never through a shell (nothing of the spec is
parsed twice, and a timeout kills one process group): so ``$NAME``, ``>``, ``|`` and
``;`` in ``trainer.command`` or ``launch_prefix`` reach the program as text.  Users
write them all the same, from the command line they had; :func:`warn_shell_syntax`
says so once when the run starts, rather than letting every training fail on them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from dnnp_hpo.run import RunContext

#: programs that expand ``$NAME`` in the arguments they are given to run
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "fish"})
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


#: a shell's redirections, pipes and command lists, as whole arguments of a list
_SHELL_OPERATOR = re.compile(r"(?:\d*|&)(?:>>?|<<?<?|<>|>\|)(?:&(?:\d+|-)?)?|\|[|&]?|&&?|;;?")
#: the characters of shell operators, which a shell reads apart from the words they touch
_OPERATOR_CHARACTERS = frozenset("();<>|&")


def _shell_words(text: str) -> list[tuple[str, bool]]:
    """``text`` split as a shell splits a command line, each part with whether it is an
    operator: words at unquoted blanks, quotes and backslashes taken away, and a run of
    unquoted ``;&|<>()`` a part of its own, also where it touches a word (``input.json>log``,
    ``--skip-neighbor-stat;``).  A quoted ``'>'`` is a word.  An open quote ends the text."""
    parts: list[tuple[str, bool]] = []
    word: list[str] = []
    quoted = False  # the word so far had quotes: '' is a word
    i, n = 0, len(text)

    def end_word() -> None:
        nonlocal quoted
        if word or quoted:
            parts.append(("".join(word), False))
        word.clear()
        quoted = False

    while i < n:
        char = text[i]
        if char in "'\"":
            close = text.find(char, i + 1)
            close = n if close < 0 else close
            inner = text[i + 1:close]
            word.append(inner if char == "'" else re.sub(r'\\([\\"$`])', r"\1", inner))
            quoted, i = True, close + 1
        elif char == "\\" and i + 1 < n:
            word.append(text[i + 1])
            i += 2
        elif char.isspace():
            end_word()
            i += 1
        elif char in _OPERATOR_CHARACTERS:
            end_word()
            j = i
            while j < n and text[j] in _OPERATOR_CHARACTERS:
                j += 1
            parts.append((text[i:j], True))
            i = j
        else:
            word.append(char)
            i += 1
    end_word()
    return parts


def _arguments(run: RunContext, key: str, args: Sequence[str]) -> list[tuple[str, bool]]:
    """``args`` of trainer ``key`` with whether each is a shell operator.  Written as one
    string in the spec, the text is split as a shell would split it (:func:`_shell_words`:
    ``--skip-neighbor-stat; dp freeze``, ``input.json>log``, whose operators stayed in the
    words they touch); written as a list, an operator is a whole item."""
    block = run.raw_spec.get("trainer")
    text = block.get(key) if isinstance(block, Mapping) else None
    if isinstance(text, str):
        return _shell_words(text)
    return [(a, _SHELL_OPERATOR.fullmatch(a) is not None) for a in args]


def warn_shell_syntax(run: RunContext, launch_prefix: Sequence[str], command: Sequence[str]) -> None:
    """Warn on stderr about what a shell would read in ``launch_prefix + command`` and no
    shell does, since none runs the training: a ``$NAME`` (``[srun, --ntasks=$NTASKS]``
    passes the text ``$NTASKS``), a redirection, pipe or list (``dp train input.json >
    log`` gives dp the arguments ``>`` and ``log``, and every training failed on them
    after ``--dry-run`` had passed: a plugin author's walk).  Arguments after a shell
    (``[bash, -c, 'module load x; exec "$@"', --]``) are the shell's to read.  Not an
    error: a program may take a literal ``$`` or ``>``; one warning at most."""
    for key, (arg, operator) in [*(("launch_prefix", a) for a in _arguments(run, "launch_prefix", launch_prefix)),
                                 *(("command", a) for a in _arguments(run, "command", command))]:
        if Path(arg).name in SHELLS:
            return
        if operator:
            print(f"hpo-run: warning: {run.spec_path}: trainer.{key}: {arg!r} is shell syntax (a redirection, "
                  "pipe or command list) and no shell runs the training: the program gets it in its arguments "
                  "(its output goes to stdout.log and stderr.log in its directory already); leave it out, or run "
                  "the command under [bash, -c, ...]", file=sys.stderr)
            return
        found = _VARIABLE.search(arg)
        if found:
            print(f"hpo-run: warning: {run.spec_path}: trainer.{key}: {arg!r} is passed as written: no shell "
                  f"runs the training, so ${found.group(1)} is not expanded; write its value, or run the command "
                  "under [bash, -c, ...]", file=sys.stderr)
            return
