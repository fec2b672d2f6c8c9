"""Contract ABIs, shipped inside the package (`relayer/abi/<Name>.json`, the ABI alone).

They are written from the compiled build artifacts (`build/contracts/<Name>.json`) by
`make compile` and again by the wheel build (tools/packaging/abis.py), never by hand, and a test
checks that they equal the build; so an installed relayer needs no checkout and no build folder,
and still calls exactly the contract that was compiled. A folder of artifacts can be named
instead (`artifacts_dir`): the demo reads its mock token's ABI from the build that way.
"""

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from relayer.errors import ArtifactError

#: Where the packaged ABIs live inside the `relayer` package.
PACKAGE_ABI_DIR = "abi"

ABI = list[dict[str, Any]]


@cache
def load_abi(contract: str, artifacts_dir: Path | None = None) -> ABI:
    """Return the ABI of `contract`: the packaged one, or from `artifacts_dir`, a folder of
    build artifacts (`{"abi": [...], ...}`) or of bare ABIs (`[...]`).

    Raises ArtifactError if it is missing, not JSON, or holds no ABI list.
    """
    if artifacts_dir is None:
        source = f"the relayer package ({PACKAGE_ABI_DIR}/{contract}.json)"
        resource = files("relayer").joinpath(PACKAGE_ABI_DIR, f"{contract}.json")
        missing = (
            f"no ABI for {contract} in {source}; in a checkout, `make compile` writes it "
            "(tools/packaging/abis.py lists the packaged contracts)"
        )
    else:
        source = str(artifacts_dir / f"{contract}.json")
        resource = artifacts_dir / f"{contract}.json"
        missing = f"no build artifact for {contract} at {source}; run `make compile`"
    try:
        content = json.loads(resource.read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(missing) from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{source} is not valid JSON: {exc}") from exc
    abi = content.get("abi") if isinstance(content, dict) else content
    if not isinstance(abi, list):
        raise ArtifactError(f"{source} has no ABI")
    return abi


def function_names(abi: ABI) -> set[str]:
    """Names of the functions an ABI declares."""
    return {entry["name"] for entry in abi if entry.get("type") == "function"}
