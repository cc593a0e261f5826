"""`python -m security`: the payload key file and the seal key file. Prints key ids, never a key.

python -m security rotate-key .data/payload-keys.json --key-id 2026-q3      # add a fresh key, make it active
python -m security check-keys .data/payload-keys.json                       # validate it, name every problem
python -m security rotate-seal-key .data/seal-keys.json --key-id s2         # the same for the command seal keys
python -m security check-seal-keys .data/seal-keys.json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from security.keys import KeyringConfigurationError, PayloadKeyring, rotate_key_file
from security.seal_keys import SealKeyConfigurationError, SealKeyring, rotate_seal_key_file


def main(argv: Sequence[str] | None = None) -> int:
    """0 done, 2 with every problem named (the file unchanged)."""
    parser = argparse.ArgumentParser(prog="python -m security", description="Manage the payload and seal key files.")
    commands = parser.add_subparsers(dest="command", required=True)
    rotate = commands.add_parser("rotate-key", help="add a fresh key and make it active (creates the file)")
    rotate.add_argument("file", type=Path)
    rotate.add_argument("--key-id", required=True, help="the new key's id, e.g. 2026-q3")
    check = commands.add_parser("check-keys", help="validate a key file")
    check.add_argument("file", type=Path)
    rotate_seal = commands.add_parser("rotate-seal-key", help="add a fresh command seal key and make it active")
    rotate_seal.add_argument("file", type=Path)
    rotate_seal.add_argument("--key-id", required=True, help="the new key's id, e.g. s2")
    check_seal = commands.add_parser("check-seal-keys", help="validate a seal key file")
    check_seal.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    keyring: PayloadKeyring | SealKeyring
    try:
        if args.command == "rotate-key":
            keyring = rotate_key_file(args.file, args.key_id)
        elif args.command == "check-keys":
            keyring = PayloadKeyring.from_file(args.file)
        elif args.command == "rotate-seal-key":
            keyring = rotate_seal_key_file(args.file, args.key_id)
        else:
            keyring = SealKeyring.from_file(args.file)
    except (KeyringConfigurationError, SealKeyConfigurationError) as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{args.file}: active key {keyring.active_key_id}; keys: {', '.join(keyring.key_ids)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
