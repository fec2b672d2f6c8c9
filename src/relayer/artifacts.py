"""Contract ABIs from the compiled build artifacts (`build/contracts/<Name>.json`).

The build (`make compile`) writes one JSON file per contract; the relayer reads the ABI from there
instead of keeping a copy that could drift from the deployed code.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

from relayer.errors import ArtifactError

#: The repository's build folder; overridable for deployments that ship artifacts elsewhere.
DEFAULT_BUILD_DIR = Path(__file__).resolve().parents[2] / "build" / "contracts"

ABI = list[dict[str, Any]]


@cache
def load_abi(contract: str, build_dir: Path = DEFAULT_BUILD_DIR) -> ABI:
    """Return the ABI of `contract` from its build artifact.

    Raises ArtifactError if the artifact is missing, not JSON, or has no ABI list.
    """
    path = build_dir / f"{contract}.json"
    try:
        artifact = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"no build artifact for {contract} at {path}; run `make compile`"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"build artifact {path} is not valid JSON: {exc}") from exc
    abi = artifact.get("abi") if isinstance(artifact, dict) else None
    if not isinstance(abi, list):
        raise ArtifactError(f"build artifact {path} has no ABI")
    return abi


def function_names(abi: ABI) -> set[str]:
    """Names of the functions an ABI declares."""
    return {entry["name"] for entry in abi if entry.get("type") == "function"}
