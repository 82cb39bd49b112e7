#!/usr/bin/env python3
"""Tests of deploy/render-config.py, and of its agreement with deploy/mywp.yaml's outputs.

    python3 deploy/test_render_config.py

Standard library only. The renderer runs as a subprocess, as an operator runs it.
"""

import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RENDERER = os.path.join(HERE, "render-config.py")
TEMPLATE = os.path.join(HERE, "mywp.yaml")
FIXTURE = os.path.join(HERE, "testdata", "describe-stacks.json")
EXPECTED = os.path.join(HERE, "testdata", "mywp.env")


def load_renderer():
    spec = importlib.util.spec_from_file_location("render_config", RENDERER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_config = load_renderer()


def run(args=(), stdin=""):
    return subprocess.run(
        [sys.executable, RENDERER, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def fixture():
    with open(FIXTURE, encoding="utf-8") as f:
        return json.load(f)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def camel(key):
    return "".join(word.capitalize() for word in key.split("_"))


def template_outputs():
    """{OutputKey: Description} of the template's Outputs section.

    The template is YAML with CloudFormation's tags, which the standard library cannot
    load; its Outputs are written one way (two-space names, a quoted Description line),
    and this reads exactly that way, failing loudly if the layout changes.
    """
    lines = read(TEMPLATE).splitlines()
    start = lines.index("Outputs:")
    outputs, name = {}, None
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break
        if m := re.match(r"^  ([A-Za-z0-9]+):$", line):
            name = m.group(1)
            outputs[name] = None
        elif m := re.match(r'^    Description: "(.*)"$', line):
            outputs[name] = m.group(1)
    missing = [name for name, description in outputs.items() if description is None]
    if missing or not outputs:
        raise AssertionError(f"could not read the Outputs of {TEMPLATE} (no Description for {missing})")
    return outputs


class HappyPath(unittest.TestCase):
    def test_fixture_renders_the_expected_file(self):
        result = run(stdin=read(FIXTURE))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        self.assertEqual(result.stdout, read(EXPECTED))

    def test_file_argument_reads_the_same(self):
        result = run([FIXTURE])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, read(EXPECTED))

    def test_shape_first_then_each_key_once_with_its_output_value(self):
        lines = run([FIXTURE]).stdout.splitlines()
        self.assertEqual(lines[0], "MYWP_SHAPE=aws")
        pairs = [line.split("=", 1) for line in lines]
        keys = [key for key, _ in pairs]
        self.assertEqual(len(keys), len(set(keys)), "a key written twice")
        self.assertEqual(set(keys), {"MYWP_SHAPE", *render_config.REQUIRED})
        by_key = {
            o["Description"].split(":", 1)[0]: o["OutputValue"]
            for o in fixture()["Stacks"][0]["Outputs"]
            if o["Description"].startswith("MYWP_")
        }
        for key, value in pairs[1:]:
            self.assertEqual(value, by_key[key], key)

    def test_operator_outputs_are_left_out(self):
        text = run([FIXTURE]).stdout
        for output in fixture()["Stacks"][0]["Outputs"]:
            if output["Description"].startswith("operator:"):
                self.assertNotIn(output["OutputValue"], text, output["OutputKey"])

    def test_output_file_is_written_whole(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "mywp.env")
            result = run([FIXTURE, "-o", path])
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout, "")
            self.assertEqual(read(path), read(EXPECTED))
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
            self.assertEqual(os.listdir(tmp), ["mywp.env"], "a temporary file was left behind")


class Refusals(unittest.TestCase):
    def refused(self, document, *expected_in_message):
        result = run(stdin=json.dumps(document))
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, "", "a refusal must write no config")
        for text in expected_in_message:
            self.assertIn(text, result.stderr)
        return result

    def test_missing_key_is_refused_with_its_name(self):
        document = fixture()
        outputs = document["Stacks"][0]["Outputs"]
        outputs[:] = [o for o in outputs if o["OutputKey"] != "MywpAwsEfsId"]
        self.refused(document, "MYWP_AWS_EFS_ID", "refused")

    def test_every_missing_key_is_named(self):
        document = fixture()
        document["Stacks"][0]["Outputs"] = []
        result = self.refused(document)
        for key in render_config.REQUIRED:
            self.assertIn(key, result.stderr)

    def test_missing_key_keeps_the_old_output_file(self):
        document = fixture()
        outputs = document["Stacks"][0]["Outputs"]
        outputs[:] = [o for o in outputs if o["OutputKey"] != "MywpAwsRedisEndpoint"]
        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "stack.json")
            with open(source, "w", encoding="utf-8") as f:
                json.dump(document, f)
            path = os.path.join(tmp, "mywp.env")
            with open(path, "w", encoding="utf-8") as f:
                f.write("MYWP_SHAPE=aws\nOLD=1\n")
            result = run([source, "-o", path])
            self.assertEqual(result.returncode, 2)
            self.assertIn("MYWP_AWS_REDIS_ENDPOINT", result.stderr)
            self.assertEqual(read(path), "MYWP_SHAPE=aws\nOLD=1\n")
            self.assertEqual(sorted(os.listdir(tmp)), ["mywp.env", "stack.json"])

    def test_key_claimed_twice_is_refused(self):
        document = fixture()
        outputs = document["Stacks"][0]["Outputs"]
        outputs.append(dict(outputs[0], OutputKey="Another"))
        self.refused(document, "both claim")

    def test_shape_from_an_output_is_refused(self):
        document = fixture()
        document["Stacks"][0]["Outputs"].append(
            {"OutputKey": "Shape", "OutputValue": "single", "Description": "MYWP_SHAPE: no"}
        )
        self.refused(document, "MYWP_SHAPE")

    def test_value_on_two_lines_is_refused(self):
        document = fixture()
        for output in document["Stacks"][0]["Outputs"]:
            if output["OutputKey"] == "MywpAwsMediaBucket":
                output["OutputValue"] = "media\nMYWP_AWS_EFS_ID=fs-evil"
        self.refused(document, "one line")

    def test_several_stacks_are_refused(self):
        document = fixture()
        document["Stacks"].append(dict(document["Stacks"][0], StackName="other"))
        self.refused(document, "--stack-name")

    def test_empty_input_is_refused(self):
        # What the renderer reads when `aws` fails in front of it in a pipe.
        result = run(stdin="")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stdout, "")
        self.assertIn("not JSON", result.stderr)


class TemplateAgreement(unittest.TestCase):
    def test_template_outputs_are_exactly_the_required_keys(self):
        keys = []
        for name, description in template_outputs().items():
            m = render_config.KEY_IN_DESCRIPTION.match(description)
            if not m:
                self.assertTrue(description.startswith("operator: "), f"{name}: {description}")
                continue
            keys.append(m.group(1))
            self.assertEqual(name, camel(m.group(1)), "an output is named after its key")
        self.assertEqual(sorted(keys), sorted(render_config.REQUIRED))

    def test_template_fits_a_direct_upload(self):
        # CloudFormation takes a template body of at most 51,200 bytes; past that,
        # `aws cloudformation deploy` needs an S3 bucket to stage it in.
        self.assertLessEqual(os.path.getsize(TEMPLATE), 51200)

    def test_fixture_has_the_template_outputs(self):
        got = {o["OutputKey"]: o["Description"] for o in fixture()["Stacks"][0]["Outputs"]}
        self.assertEqual(got, template_outputs())


if __name__ == "__main__":
    unittest.main(verbosity=2)
