"""Write the ABIs the relayer calls into its package, from the compiled build artifacts.

`build/contracts/<Name>.json` (brownie's artifacts) → `src/relayer/abi/<Name>.json`, the ABI alone.
The relayer loads these through importlib.resources, so an installed wheel carries them and needs
no build folder. They are generated, never edited: `make compile` runs this after compiling, and
the wheel build (tools/packaging/backend.py) runs it again, so a changed contract reaches the
package with its next build. tests/relayer/test_artifacts.py checks that they equal the build.

Standard library only: the wheel build imports it in an isolated environment.

    python tools/packaging/abis.py [--build-dir build/contracts] [--out src/relayer/abi]
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / "build" / "contracts"
PACKAGE_ABI_DIR = ROOT / "src" / "relayer" / "abi"

#: The contracts whose ABIs the relayer calls (relayer.chain): the union and what it reads of
#: the pool token. Test mocks stay out of the package.
CONTRACTS = ("DataUnion", "DataUnionRoots", "IERC20Metadata", "IERC5267")


class AbiExtractionError(Exception):
    """A build artifact the package needs is missing or has no ABI."""


def read_abi(artifact: Path) -> list[object]:
    try:
        data = json.loads(artifact.read_text())
    except FileNotFoundError:
        raise AbiExtractionError(f"no build artifact {artifact}: run `make compile`") from None
    except json.JSONDecodeError as exc:
        raise AbiExtractionError(f"build artifact {artifact} is not valid JSON: {exc}") from None
    abi = data.get("abi") if isinstance(data, dict) else None
    if not isinstance(abi, list):
        raise AbiExtractionError(f"build artifact {artifact} has no ABI")
    return abi


def render(abi: list[object]) -> str:
    """One stable text per ABI (the compiler's entry order kept), so rebuilds change no bytes."""
    return json.dumps(abi, indent=1) + "\n"


def extract(build_dir: Path = BUILD_DIR, out_dir: Path = PACKAGE_ABI_DIR) -> list[Path]:
    """Write every packaged ABI from `build_dir` into `out_dir` and remove any other file there
    (an ABI dropped from CONTRACTS must not linger in a wheel). Returns the files written.

    Reads every artifact before writing anything, so a missing one leaves `out_dir` as it was.
    """
    abis = {name: read_abi(build_dir / f"{name}.json") for name in CONTRACTS}
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f"{name}.json" for name in CONTRACTS}
    for stale in out_dir.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    written = []
    for name, abi in abis.items():
        path = out_dir / f"{name}.json"
        text = render(abi)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    parser.add_argument("--out", type=Path, default=PACKAGE_ABI_DIR)
    args = parser.parse_args(argv)
    try:
        written = extract(args.build_dir, args.out)
    except AbiExtractionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"    {len(written)} ABIs in {args.out}: {', '.join(p.stem for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
