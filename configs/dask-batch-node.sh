# The paper's batch-node set-up (section 2.2.5), shared by configs/lsf/summit-dask.lsf and
# configs/slurm/frontier-dask.sbatch, which set SPEC, VENV, WORKDIR, SCRATCH and NODES and
# then source this file.  It starts the Dask scheduler and one worker per compute node
# here, runs hpo-run, and stops them (also when hpo-run fails); the exit status is
# hpo-run's, or 2 for a NODES that is no whole number of at least 1 (before anything
# starts), or 3 when the job's certificate or the scheduler cannot be made, or 130 or 143
# when the job is ended by SIGINT or SIGTERM (scancel, bkill, the time limit).
#
# Every Dask listener binds to 127.0.0.1 with a free port, and every Dask connection is
# TLS with this job's own throw-away certificate: the scheduler, its workers and hpo-run
# all run on this node, which on Summit is a launch node SHARED with other users, whose
# jobs reach 127.0.0.1 too; Dask's plain tcp is unauthenticated (anyone who reaches the
# scheduler or a worker runs code as you), Dask's TLS requires a certificate of this
# job's CA on both sides.  The certificate and its key (mode 0600, in $WORKDIR/dask-tls,
# made anew by every job and removed at its end) need only openssl.  The scheduler file
# carries the port, so a scheduler of another job on a shared launch node cannot collide
# with this one.
# DASK_SCHEDULER_ARGS / DASK_WORKER_ARGS replace the loopback defaults, e.g. with
# "--interface ib0" for workers started on other nodes (then the cluster's network can
# reach them; TLS stays on); the scheduler keeps "--port 0" unless they give a --port.

LOOPBACK="--host 127.0.0.1 --dashboard-address 127.0.0.1:0"
SCHEDULER_ARGS=${DASK_SCHEDULER_ARGS:-$LOOPBACK}
case " $SCHEDULER_ARGS " in
    *" --port "* | *" --port="*) ;;
    *) SCHEDULER_ARGS="$SCHEDULER_ARGS --port 0";;  # never Dask's 8786, taken by another job
esac
WORKER_ARGS=${DASK_WORKER_ARGS:-$LOOPBACK}

source "$VENV/bin/activate"
mkdir -p "$WORKDIR" "$SCRATCH"
cd "$WORKDIR"

SCHEDULER_FILE=$WORKDIR/scheduler.json
rm -f "$SCHEDULER_FILE"                       # never join a scheduler of an earlier job

# This job's certificate: one self-signed key pair, the CA of the scheduler, the workers
# and the clients (hpo-run, the shutdown below), which read it from Dask's config.
TLS_DIR=$WORKDIR/dask-tls
rm -rf "$TLS_DIR"
(umask 077 && mkdir "$TLS_DIR" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days 30 -subj "/CN=dnnp-hpo-job-${JOB_ID:-local}" \
    -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" >"$TLS_DIR/openssl.log" 2>&1) || {
    echo "cannot make the job's TLS certificate with openssl in $TLS_DIR:" >&2
    cat "$TLS_DIR/openssl.log" >&2 2>/dev/null || true
    exit 3
}
TLS_ARGS=(--protocol tls --tls-ca-file "$TLS_DIR/cert.pem" --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem")
export DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True
export DASK_DISTRIBUTED__COMM__TLS__CA_FILE=$TLS_DIR/cert.pem
export DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT=$TLS_DIR/cert.pem
export DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY=$TLS_DIR/key.pem
shutdown_dask() {
    # A signal while cleaning up (LSF ends a job with SIGINT, then SIGTERM, then SIGKILL
    # after JOB_TERMINATE_INTERVAL) only shortens the grace below: the TERM trap's exit
    # ended the clean-up half-way, the scratch left behind (helper-112).
    trap 'JOB_ENDING=1' INT TERM
    # hpo-run stopped by the job's signal exits 130 or 143 itself (it handles SIGINT and
    # SIGTERM), and bash then runs no INT trap: the job is ending all the same.
    case "${status:-}" in 130 | 143) JOB_ENDING=1 ;; esac
    # Ask the scheduler to stop itself and its workers, if it still runs: at the job's end
    # (scancel, the time limit) Slurm and LSF signal it with this script, and asking a dead
    # one waited a minute, beyond Slurm's 30 s before SIGKILL, so the key below was never
    # removed (helper-107).  Then make sure nothing is left.
    if [ -z "${JOB_ENDING:-}" ] && [ -n "${SCHEDULER_PID:-}" ] && kill -0 "$SCHEDULER_PID" 2>/dev/null \
        && [ -s "$SCHEDULER_FILE" ]; then
        timeout 15 python -c "import sys; from distributed import Client; \
Client(scheduler_file=sys.argv[1], timeout=10).shutdown()" "$SCHEDULER_FILE" >/dev/null 2>&1 || true
    fi
    rm -rf "$TLS_DIR"  # the job's key first: nothing connects any more
    # Only this shell's jobs still running (jobs -pr): the pid of a worker that died hours
    # ago may be another process of yours by now, on a launch node shared with your jobs.
    local live grace=${DASK_STOP_GRACE:-30}
    [[ $grace =~ ^[0-9]+$ ]] || grace=30
    # At the job's end the batch system SIGKILLs what is left soon after its signal: 30 s
    # on Slurm's defaults (KillWait), 10 s after SIGINT and SIGTERM on LSF's
    # (JOB_TERMINATE_INTERVAL).  The
    # trainings in flight cannot finish in that time, so do not wait for them: the
    # scratch is removed before the SIGKILL comes.
    [ -z "${JOB_ENDING:-}" ] || [ "$grace" -le 2 ] || grace=2
    live=$(jobs -pr)
    # shellcheck disable=SC2086  # a list of pids
    [ -z "$live" ] || kill $live 2>/dev/null || true
    # A worker running a training when hpo-run died (killed, out of memory) waits on
    # SIGTERM for its task to end, "closing" until the walltime: the job then held every
    # node with nothing to do (helper-97).  A grace period, then SIGKILL: each worker's
    # watchdog (dnnp_hpo.process) stops the trainings it leaves behind.
    while [ -n "$(jobs -pr)" ] && [ "$grace" -gt 0 ]; do
        [ -z "${JOB_ENDING:-}" ] || [ "$grace" -le 2 ] || grace=2  # a signal since
        sleep 1
        grace=$((grace - 1))
    done
    live=$(jobs -pr)
    # shellcheck disable=SC2086
    [ -z "$live" ] || kill -KILL $live 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$SCRATCH"
}
trap shutdown_dask EXIT
# scancel, bkill or the time limit: the whole job is signalled (the scheduler and workers
# too), and the batch system's SIGKILL follows within seconds.
trap 'JOB_ENDING=1; exit 143' TERM
trap 'JOB_ENDING=1; exit 130' INT

# The spec's launcher block joined to this job's scheduler: a laptop spec's local keys
# (workers: 2) dropped, its wait_timeout and shutdown kept.  Before anything starts: a
# NODES that is no count of nodes ends the job here (batch_block's one line, exit 2).
LAUNCHER=$(python -m dnnp_hpo.plugins.launchers.batch_block "$SPEC" "$SCHEDULER_FILE" "$NODES")

# Logs are appended: a resumed job (same WORKDIR) keeps the killed job's logs.
echo "=== job ${JOB_ID:-local} $(date '+%F %T')" >>"$WORKDIR/dask-scheduler.log"
# shellcheck disable=SC2086  # the *_ARGS are lists of words
dask scheduler --scheduler-file "$SCHEDULER_FILE" --no-dashboard "${TLS_ARGS[@]}" $SCHEDULER_ARGS \
    >>"$WORKDIR/dask-scheduler.log" 2>&1 &
SCHEDULER_PID=$!
# A scheduler that cannot start (a taken port, a bad argument) writes no scheduler file:
# say so now, not after hpo-run's wait_timeout.
for _ in $(seq 1 120); do
    [ -s "$SCHEDULER_FILE" ] && break
    if ! kill -0 "$SCHEDULER_PID" 2>/dev/null; then
        echo "dask scheduler exited at start; the end of $WORKDIR/dask-scheduler.log:" >&2
        tail -n 5 "$WORKDIR/dask-scheduler.log" >&2
        exit 3
    fi
    sleep 0.5
done
for i in $(seq 1 "$NODES"); do
    echo "=== job ${JOB_ID:-local} $(date '+%F %T')" >>"$WORKDIR/dask-worker-$i.log"
    # shellcheck disable=SC2086
    dask worker --scheduler-file "$SCHEDULER_FILE" --no-nanny --no-dashboard \
        --nthreads 1 --nworkers 1 --name "worker-$i" --local-directory "$SCRATCH/worker-$i" \
        "${TLS_ARGS[@]}" $WORKER_ARGS \
        >>"$WORKDIR/dask-worker-$i.log" 2>&1 &
done

status=0
hpo-run "$SPEC" --set run_dir="$WORKDIR/run" --set launcher="$LAUNCHER" || status=$?
exit "$status"
