"""What ships: no key in the repository, and a wheel that holds the whole product and serves outside the checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.live import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
#: The product's packages and module, as pyproject.toml finds them; everything else in the checkout stays out.
PRODUCT = ("onereturn", "indicators", "mappings", "collectors", "exports", "api", "cli")
#: A Fernet key or a pseudonym secret written as the keys file writes them.
KEY_TEXT = re.compile(r'"(encryption_key|pseudonym_secret)"\s*:\s*"[A-Za-z0-9_=-]{40,}"')


def _tracked() -> list[str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in listed.split("\0") if name]


def test_no_tracked_file_holds_a_records_key() -> None:
    holding = []
    for name in _tracked():
        path = ROOT / name
        if Path(name).name == "records-keys.json" or (
            path.is_file()
            and path.stat().st_size < 5_000_000
            and KEY_TEXT.search(path.read_bytes().decode(errors="replace"))
        ):
            holding.append(name)
    assert holding == []


@pytest.mark.parametrize("made", ["var-keys/records-keys.json", "data-keys/records-keys.json", "var/onereturn.sqlite3"])
def test_what_a_start_makes_beside_the_checkout_git_would_not_add(made: str) -> None:
    _tracked()
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", made], cwd=ROOT, timeout=60)
    assert ignored.returncode == 0, f"git would add {made}"


def _product_files() -> set[str]:
    """Every tracked file of the product's packages, as the wheel should hold it."""
    product = {"scheduler.py"}
    for name in _tracked():
        if name.split("/", 1)[0] in PRODUCT and "/" in name:
            product.add(name)
    return product


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The product's wheel, built from a copy of the checkout so the build leaves nothing in it."""
    source = tmp_path_factory.mktemp("source")
    for name in (*PRODUCT, "scheduler.py", "pyproject.toml", "README.md"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    # The environment's own setuptools where it has one (an environment made by Python 3.11 does): no download.
    isolation = ["--no-build-isolation"] if _has_setuptools() else []
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            *isolation,
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (built,) = out.glob("onereturn-*.whl")
    return built


def _has_setuptools() -> bool:
    try:
        import setuptools  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_the_wheel_holds_every_package_and_data_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        held = {name for name in archive.namelist() if ".dist-info/" not in name}
    missing = sorted(_product_files() - held)
    assert missing == []


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment outside the checkout holding the wheel, over the locked dependencies of this one."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    )
    # The locked dependencies as this environment holds them, as a plain path: a path line in a .pth file runs no
    # .pth file of that folder, so the checkout's editable install is not seen; only the wheel's copy is.
    (purelib / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return venv


@pytest.mark.slow
def test_the_wheel_serves_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import api.main, collectors.published.intake, mappings.annex_a; print(api.main.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ONERETURN_") and key != "PYTHONPATH"}
    env |= {"ONERETURN_DATA_DIR": str(tmp_path / "var"), "ONERETURN_LOAD_DEMO": "false"}
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(installed / "bin" / "onereturn"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as client:
            ready = _wait_ready(client, serve)
            assert ready["indicators"] > 300
            returns = client.get("/api/returns")
            assert returns.status_code == 200
            assert {"dfe_ssda903", "county_cyp_core"} <= {r["id"] for r in returns.json()["items"]}
    finally:
        stop(serve, 30)
        log.close()
    assert serve.returncode is not None


def _wait_ready(client: httpx.Client, serve: subprocess.Popen[bytes]) -> dict[str, int]:
    """The readiness answer once the service is up; fails with the service's log if it ends or takes too long."""
    import time

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            pytest.fail(f"onereturn serve from the wheel ended with {serve.returncode}")
        try:
            answer = client.get("/health/ready")
            if answer.status_code == 200:
                body: dict[str, int] = answer.json()
                return body
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail("onereturn serve from the wheel was not ready within 180 s")


@pytest.mark.slow
def test_the_wheel_holds_the_lock_of_dfes_rules_environment(wheel: Path) -> None:
    # The docs tell an installer from the wheel to build DfE's rules' environment from validators.lock.
    with zipfile.ZipFile(wheel) as archive:
        held = archive.read("collectors/records/validators.lock")
    assert held == (ROOT / "validators.lock").read_bytes()
    assert b"--hash=sha256:" in held
