"""Validates JSON documents against a JSON Schema with the reference Python implementation.

    json_schema_check.py SCHEMA.json DOCUMENTS.json

DOCUMENTS.json is an object {name: document}. Prints one JSON object {name: [error, ...]} on
stdout (an empty list for a valid document). Exits 1 if the schema itself is not a valid
draft-07 schema.
"""
import json
import sys

import jsonschema


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        documents = json.load(f)
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        print(f"not a valid draft-07 schema: {error}", file=sys.stderr)
        return 1
    validator = jsonschema.Draft7Validator(schema)
    result = {}
    for name, document in documents.items():
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        result[name] = [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(document)'}: {e.message[:300]}"
            for e in errors
        ]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
