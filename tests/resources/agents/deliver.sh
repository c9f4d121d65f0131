#!/bin/sh
# Test command for the pipe(8) end-to-end tests (tests/tests/agents.rs).
# usage: deliver.sh OUTDIR MODE [ARGS...]
out=$1
mode=$2
shift 2
case "$mode" in
ok)
    printf '%s\n' "$@" > "$out/args"
    cat > "$out/msg"
    exit 0 ;;
tempfail)
    cat > /dev/null
    echo "try later"
    exit 75 ;;
fail)
    cat > /dev/null
    echo "oops"
    exit 1 ;;
dsn)
    cat > /dev/null
    echo "4.2.2 mailbox full"
    exit 1 ;;
sleep)
    exec sleep 30 ;;
esac
exit 64
