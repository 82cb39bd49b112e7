#!/usr/bin/env python3
"""Turns the MyWP stack's outputs into MyWP's config file (KEY=value lines).

    aws cloudformation describe-stacks --stack-name mywp --output json \\
      | deploy/render-config.py > /etc/mywp/mywp.env
    deploy/render-config.py describe-stacks.json -o /etc/mywp/mywp.env

Each output of deploy/mywp.yaml whose Description starts with a config key (MYWP_... or
DATABASE_...) becomes one line; outputs without one are for the operator and are left out.
MYWP_SHAPE=aws comes first. A missing or duplicated key, or a value that cannot be one line,
is refused with exit status 2 and nothing is written, so a half-made config never reaches
a server (with -o the old file is kept; a shell's `>` has emptied it already). Python's
standard library only: it runs wherever the AWS CLI does.
"""

import argparse
import json
import os
import re
import sys
import tempfile

# Every key MyWP's AWS shape needs from the stack, in the order they are written.
REQUIRED = (
    "MYWP_AWS_REGION",
    "MYWP_PLATFORM_DOMAIN",
    "MYWP_AWS_RDS_ENDPOINT",
    "MYWP_AWS_RDS_ADMIN_USER",
    "MYWP_AWS_RDS_ADMIN_SECRET_ARN",
    "MYWP_AWS_CONTROL_DB_ENDPOINT",
    "MYWP_AWS_CONTROL_DB_SECRET_ARN",
    "MYWP_AWS_EFS_ID",
    "MYWP_AWS_EFS_MOUNT",
    "MYWP_AWS_MEDIA_BUCKET",
    "MYWP_AWS_HOSTED_ZONE_ID",
    "MYWP_AWS_ALB_DNS_NAME",
    "MYWP_AWS_ALB_ZONE_ID",
    "MYWP_AWS_PLATFORM_CERT_ARN",
    "MYWP_AWS_BACKUP_VAULT",
    "MYWP_AWS_BACKUP_ROLE_ARN",
    "MYWP_AWS_WEB_ASG",
    "MYWP_AWS_REDIS_ENDPOINT",
    "MYWP_AWS_WEB_ACL_ARN",
)

# Written by this script, never taken from the stack.
SHAPE = ("MYWP_SHAPE", "aws")

KEY_IN_DESCRIPTION = re.compile(r"^\s*((?:MYWP|DATABASE)_[A-Z0-9_]+)\b")


class Refusal(Exception):
    """The input cannot make a complete, correct config file."""


def stack_of(document):
    stacks = document.get("Stacks") if isinstance(document, dict) else None
    if not isinstance(stacks, list) or not stacks:
        raise Refusal("no stack in the input: expected `aws cloudformation describe-stacks` JSON")
    if len(stacks) > 1:
        names = ", ".join(str(s.get("StackName")) for s in stacks)
        raise Refusal(f"{len(stacks)} stacks in the input ({names}): pass --stack-name to describe-stacks")
    return stacks[0]


def config_from(document):
    """Returns the config as (key, value) pairs, MYWP_SHAPE first, or raises Refusal."""
    stack = stack_of(document)
    name = stack.get("StackName", "the stack")
    found = {}
    for output in stack.get("Outputs") or []:
        match = KEY_IN_DESCRIPTION.match(output.get("Description") or "")
        if not match:
            continue
        key = match.group(1)
        if key == SHAPE[0]:
            raise Refusal(f"output {output.get('OutputKey')} claims {key}, which this script writes itself")
        if key in found:
            raise Refusal(f"outputs {found[key][0]} and {output.get('OutputKey')} both claim {key}")
        value = output.get("OutputValue")
        if not isinstance(value, str) or value == "":
            raise Refusal(f"output {output.get('OutputKey')} ({key}) has no value")
        if "\n" in value or "\r" in value or "\0" in value:
            raise Refusal(f"output {output.get('OutputKey')} ({key}) does not fit on one line")
        found[key] = (output.get("OutputKey"), value)
    missing = [key for key in REQUIRED if key not in found]
    if missing:
        status = stack.get("StackStatus", "unknown")
        raise Refusal(
            f"{name} (status {status}) has no output for {', '.join(missing)}: "
            "is the stack made from the current deploy/mywp.yaml, and is it complete?"
        )
    extra = sorted(key for key in found if key not in REQUIRED)
    return [SHAPE] + [(key, found[key][1]) for key in list(REQUIRED) + extra]


def render(pairs):
    return "".join(f"{key}={value}\n" for key, value in pairs)


def write_atomically(path, text):
    """Replaces path with text in one rename: readers see the old file or the new one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".mywp-env.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # ARNs, names and endpoints only: no secret is in this file.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv):
    parser = argparse.ArgumentParser(
        prog="render-config.py",
        description="MyWP's config file from `aws cloudformation describe-stacks` JSON.",
    )
    parser.add_argument("input", nargs="?", default="-", help="describe-stacks JSON (default: standard input)")
    parser.add_argument(
        "-o",
        "--output",
        help="write here, replacing the file only when the config is complete (default: standard output)",
    )
    args = parser.parse_args(argv[1:])
    try:
        if args.input == "-":
            if sys.stdin.isatty():
                raise Refusal("give describe-stacks JSON on standard input or as a file")
            text = sys.stdin.read()
        else:
            with open(args.input, encoding="utf-8") as f:
                text = f.read()
        try:
            document = json.loads(text)
        except json.JSONDecodeError as e:
            raise Refusal(f"not JSON ({e}): use --output json with describe-stacks")
        text = render(config_from(document))
        if args.output:
            write_atomically(args.output, text)
        else:
            sys.stdout.write(text)
    except OSError as e:
        print(f"render-config: {e}", file=sys.stderr)
        return 2
    except Refusal as e:
        print(f"render-config: refused: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
