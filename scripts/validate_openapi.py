"""Validates the server's API document with openapi-spec-validator.

    python3 scripts/validate_openapi.py FILE_OR_URL

FILE_OR_URL is a saved copy of `GET /api/v1/openapi.json` or its URL on a
running server. Exits 0 when the document is valid OpenAPI 3.1, 1 with
every error otherwise. Prints `# pass 1` or `# fail 1` last, which
`scripts/test.mjs` counts.
"""

import json
import sys
import urllib.request

from openapi_spec_validator import OpenAPIV31SpecValidator


def load(source):
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as response:
            return json.load(response)
    with open(source, encoding="utf-8") as file:
        return json.load(file)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip())
        return 2
    source = sys.argv[1]
    try:
        document = load(source)
    except (OSError, ValueError) as error:
        print(f"{source}: cannot read the document: {error}")
        print("# fail 1")
        return 1
    errors = []
    if document.get("openapi", "").split(".")[:2] != ["3", "1"]:
        errors.append(f"openapi is {document.get('openapi')!r}, not 3.1.x")
    errors += [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in OpenAPIV31SpecValidator(document).iter_errors()
    ]
    if errors:
        print(f"{source}: {len(errors)} error(s)")
        for error in errors:
            print(f"  {error}")
        print("# fail 1")
        return 1
    paths = document.get("paths", {})
    operations = sum(
        1
        for item in paths.values()
        for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace")
        if method in item
    )
    print(
        f"{source}: valid OpenAPI {document['openapi']}, "
        f"{len(paths)} paths, {operations} operations, "
        f"{len(document.get('webhooks', {}))} webhooks"
    )
    print("# pass 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
