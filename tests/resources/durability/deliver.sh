#!/bin/sh
# Durability test delivery: one file per delivery (out/RECIPIENT.PID), written
# under a temporary name and renamed, so a duplicate delivery is counted
# instead of overwriting the first. A pipe agent killed while copying closes
# the command's input early: a message without its last line is refused with
# EX_TEMPFAIL (75), as a careful command would, so qmgr retries it.
tmp="$1/$2.$$.tmp"
cat > "$tmp" || { rm -f "$tmp"; exit 75; }
if [ "$(tail -n 1 "$tmp")" != "end of message" ]; then
    rm -f "$tmp"
    exit 75
fi
mv "$tmp" "$1/$2.$$"
