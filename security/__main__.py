"""`python -m security`: the payload key file and the seal key file. Prints key ids, never a key.

python -m security rotate-key .data/payload-keys.json --key-id 2026-q3      # add a fresh key, make it active
python -m security check-keys .data/payload-keys.json                       # validate it, name every problem
python -m security rotate-seal-key .data/seal-keys.json --key-id s2         # the same for the command seal keys
python -m security check-seal-keys .data/seal-keys.json
python -m security rotate-checkpoint-key .data/checkpoint-keys.json --key-id c2   # the checkpoints' Ed25519 keys
python -m security checkpoint-public-keys .data/checkpoint-keys.json        # each key id's public key, for auditors
python -m security vault-new-key --key-id 2026-q3 [--purpose payload|seal|checkpoint]
    # a data key wrapped by Vault transit, into TRIALFLOW_VAULT_WRAPPED_KEYS_FILE
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from config.settings import SettingsError, load_settings
from security.checkpoints import public_key_text
from security.configured_keys import vault_key_provider
from security.key_provider import KEYRING_TYPES, PAYLOAD
from security.keys import (
    CheckpointKeyring,
    Keyring,
    KeyringConfigurationError,
    PayloadKeyring,
    SealKeyring,
    rotate_key_file,
)


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
    rotate_checkpoint = commands.add_parser(
        "rotate-checkpoint-key", help="add a fresh checkpoint signing key (Ed25519) and make it active"
    )
    rotate_checkpoint.add_argument("file", type=Path)
    rotate_checkpoint.add_argument("--key-id", required=True, help="the new key's id, e.g. c2")
    public = commands.add_parser(
        "checkpoint-public-keys", help="each checkpoint key id's Ed25519 public key (base64), for auditors"
    )
    public.add_argument("file", type=Path)
    vault = commands.add_parser(
        "vault-new-key", help="a data key from Vault transit, kept wrapped, made active (TRIALFLOW_VAULT_* settings)"
    )
    vault.add_argument("--key-id", required=True, help="the new key's id, e.g. 2026-q3")
    vault.add_argument("--purpose", default=PAYLOAD, choices=KEYRING_TYPES, help=f"whose keys (default {PAYLOAD})")
    args = parser.parse_args(argv)
    keyring: Keyring
    try:
        if args.command == "vault-new-key":
            keyring = vault_key_provider(load_settings()).new_wrapped_key(args.purpose, args.key_id)
            print(f"{args.purpose}: active key {keyring.active_key_id}; keys: {', '.join(keyring.key_ids)}")
            return 0
        if args.command == "checkpoint-public-keys":
            checkpoint_keys = CheckpointKeyring.from_file(args.file)
            for key_id in checkpoint_keys.key_ids:
                print(f"{key_id} {public_key_text(checkpoint_keys.key(key_id))}")
            return 0
        kind: type[Keyring] = PayloadKeyring
        if "seal" in args.command:
            kind = SealKeyring
        elif "checkpoint" in args.command:
            kind = CheckpointKeyring
        if args.command.startswith("rotate"):
            keyring = rotate_key_file(args.file, args.key_id, kind)
        else:
            keyring = kind.from_file(args.file)
    except (KeyringConfigurationError, SettingsError) as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{args.file}: active key {keyring.active_key_id}; keys: {', '.join(keyring.key_ids)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
