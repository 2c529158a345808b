"""Prints each function's execution role as SAM makes it, as JSON.

The local stack checks every AWS call a function makes against the role
that `sam deploy` would give it. SAM writes those roles: it expands policy
templates (`DynamoDBReadPolicy`, ...) into statements and attaches managed
policies for the function's event sources. So the template goes through
SAM's own translator (the `samtranslator` package `sam` uses), and the
roles are read from its output; intrinsic functions are left for the local
stack to resolve against the resources it created.

Usage: roles.py TEMPLATE
Output: {"<function logical id>": {"role": "<role logical id>",
         "policies": [{"name": ..., "document": {...}}], "managed": [arn, ...]}}
"""

import json
import os
import sys

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform


class NoManagedPolicyNames:
    """The template names managed policies by ARN only."""

    def load(self):
        return {}


def main(path):
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            # The translator wants code in S3; where it lives does not change a role.
            resource.setdefault("Properties", {})["CodeUri"] = "s3://local/code.zip"
    resources = transform(template, {}, NoManagedPolicyNames())["Resources"]
    roles = {}
    for function_id, function in resources.items():
        if function["Type"] != "AWS::Lambda::Function":
            continue
        role = function["Properties"]["Role"]
        role_id = role["Fn::GetAtt"][0] if isinstance(role, dict) and "Fn::GetAtt" in role else None
        if role_id is None:
            raise SystemExit(f"{function_id}: only roles SAM creates can be checked locally")
        properties = resources[role_id]["Properties"]
        roles[function_id] = {
            "role": role_id,
            "policies": [
                {"name": p["PolicyName"], "document": p["PolicyDocument"]}
                for p in properties.get("Policies", [])
            ],
            "managed": properties.get("ManagedPolicyArns", []),
        }
    json.dump(roles, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
