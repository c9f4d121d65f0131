#!/usr/bin/env python3
"""Print the messages of an mbox file or a Maildir as Python's mailbox module reads them.

Usage: readbox.py mbox|maildir PATH

Output, per message: a line `=== message`, `from <From_ line>` (mbox only),
one `header <name>: <value>` line per header, and `body <text>` with the
body's newlines written as `\\n`. Exit status 2 when the mailbox cannot be parsed.
"""
import mailbox
import sys


def main():
    kind, path = sys.argv[1], sys.argv[2]
    try:
        if kind == "mbox":
            box = mailbox.mbox(path, create=False)
            keys = list(box.keys())
        else:
            box = mailbox.Maildir(path, factory=None, create=False)
            keys = sorted(box.keys(), key=lambda k: box.get_file(k)._file.name)
        for key in keys:
            msg = box[key]
            print("=== message")
            if kind == "mbox":
                print("from " + msg.get_from())
            for name, value in msg.items():
                print("header %s: %s" % (name, value))
            body = msg.get_payload()
            print("body " + body.replace("\\", "\\\\").replace("\n", "\\n"))
    except Exception as e:  # noqa: BLE001 - any parse error fails the test
        print("error: %s" % e, file=sys.stderr)
        sys.exit(2)


main()
