"""A third-party plugin package, installed for real, is picked up everywhere without code changes.

The example package (examples/moss-plugin-units) is pip-installed into a temporary folder, not
into the project's environment, and every check runs in a subprocess with that folder on
PYTHONPATH: entry-point discovery happens once per process, so this keeps the rest of the test
suite seeing exactly the plugins it expects. Broken packages are built by hand the same way
(a module and a ``.dist-info`` folder with ``entry_points.txt``), which is all pip leaves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "moss-plugin-units"
CONVERT_RESULT = "Convert(\"5 km to miles\") => '5 km = 3.10686 miles'"


@pytest.fixture(scope="module")
def units_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed example package (built from a copy: pip builds in the
    source tree, and the checkout should stay clean)."""
    work = tmp_path_factory.mktemp("units")
    source = work / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    site = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert (site / "moss_plugin_units").is_dir()
    return site


def run_python(
    code: str, *sites: Path, args: tuple[str, ...] = (), check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run Python in a fresh process that sees the given site folders."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, sites), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


def cli(
    *argv: str, sites: tuple[Path, ...], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``moss-agent ARGV`` in a fresh process (the installed script's own code path)."""
    return run_python(
        "import sys; from agent.cli import main; sys.exit(main(sys.argv[1:]))",
        *sites,
        args=argv,
        check=check,
    )


def test_the_agent_discovers_the_plugin_and_uses_it(units_site: Path) -> None:
    out = run_python(
        """
        import json
        from agent import Agent
        from agent.backends.scripted import ScriptedBackend
        from plugins import discover

        agent = Agent(ScriptedBackend([
            ' I should convert.<eot>\\n<|Commands|>: Convert("5 km to miles")<eoc>',
            " 5 km is about 3.1 miles.<eom>",
        ]))
        turn = agent.chat("How many miles is 5 km?")
        plugin = agent.plugins.get("Convert")
        print(json.dumps({
            "errors": [e.reason for e in discover()],
            "names": agent.plugins.names(),
            "meta": agent.meta_instruction,
            "results": turn.results_text,
            "source": plugin.source,
        }))
        """,
        units_site,
    )
    seen: dict[str, Any] = json.loads(out.stdout)
    assert seen["errors"] == []
    assert {"Calculate", "Solve", "Search", "Convert"} <= set(seen["names"])
    assert "- Unit converter: enabled. API: Convert(quantity)\n" in seen["meta"]
    assert seen["results"] == CONVERT_RESULT
    assert seen["source"] == "moss_plugin_units.plugin"


def test_the_cli_lists_and_calls_the_plugin(units_site: Path) -> None:
    listed = cli("plugins", sites=(units_site,)).stdout
    [line] = [row for row in listed.splitlines() if row.startswith("Convert ")]
    assert "Convert(quantity)" in line and "Unit converter" in line
    called = cli(
        "call", 'Convert("5 km to miles"), Convert("5 kg to m")', sites=(units_site,), check=False
    )
    assert called.returncode == 1  # one of the calls failed
    assert (
        called.stdout
        == f"<|Results|>:\n{CONVERT_RESULT}\nConvert(\"5 kg to m\") => 'No result.'\n<eor>\n"
    )
    assert "Cannot convert kg (mass) to m (length)" in called.stderr


def test_the_demo_offers_a_switch_for_the_plugin(units_site: Path) -> None:
    out = run_python(
        """
        import json
        from agent import Agent
        from agent.backends.scripted import ScriptedBackend
        from demo.session import Session, SharedModel

        session = Session(SharedModel(lambda: Agent(ScriptedBackend()))(), corpora=[])
        session.set_enabled_plugins(["Convert"])
        print(json.dumps({"choices": session.plugin_choices(),
                          "meta": session.agent.meta_instruction}))
        """,
        units_site,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert ["Unit converter · Convert(quantity)", "Convert"] in seen["choices"]
    assert "- Unit converter: enabled. API: Convert(quantity)\n" in seen["meta"]
    assert "- Calculator: disabled.\n" in seen["meta"]


def broken_site(root: Path) -> Path:
    """Three plugin packages that fail in different ways, as pip would have installed them."""
    site = root / "broken-site"
    site.mkdir()
    packages = {
        "moss-plugin-needs-libfoo": (
            "needs_libfoo",
            'raise ImportError("moss-plugin-needs-libfoo needs the libfoo system library")\n',
        ),
        "moss-plugin-two-args": (
            "two_args",
            "from plugins import plugin\n\n"
            "@plugin('Weigh')\n"
            "def weigh(item: str, unit: str) -> str:\n"
            "    return item\n",
        ),
        "moss-plugin-clash": (
            "clash",
            "from plugins import plugin\n\n"
            "@plugin('Calculate')\n"
            "def calculate(expression: str) -> str:\n"
            "    return '42'\n",
        ),
        # Registers a plugin, then fails: the package must contribute nothing.
        "moss-plugin-partial": (
            "partial",
            "from plugins import plugin\n\n"
            "@plugin('PartA')\n"
            "def part_a(text: str) -> str:\n"
            "    return text\n\n"
            "import libfoo_is_not_installed\n",
        ),
        # Exits while importing, as a module that parses sys.argv at import does.
        "moss-plugin-exits": (
            "exits",
            "import argparse\nargparse.ArgumentParser(prog='exits').parse_args(['--bogus'])\n",
        ),
    }
    for dist, (module, code) in packages.items():
        (site / f"{module}.py").write_text(code, encoding="utf-8")
        info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[moss_agent.plugins]\nplugin = {module}\n", encoding="utf-8"
        )
    return site


def test_broken_packages_are_reported_and_the_others_still_load(
    units_site: Path, tmp_path: Path
) -> None:
    bad = broken_site(tmp_path)
    out = run_python(
        """
        import json
        from dataclasses import asdict
        from plugins import default_registry, discover

        registry = default_registry()
        print(json.dumps({"names": registry.names(),
                          "errors": [asdict(e) for e in discover()]}))
        """,
        units_site,
        bad,
    )
    seen = json.loads(out.stdout)
    errors = {e["package"]: e for e in seen["errors"]}
    assert set(errors) == {
        "moss-plugin-needs-libfoo",
        "moss-plugin-two-args",
        "moss-plugin-clash",
        "moss-plugin-partial",
        "moss-plugin-exits",
    }
    assert errors["moss-plugin-partial"]["reason"].startswith("ModuleNotFoundError")
    assert errors["moss-plugin-exits"]["reason"] == "SystemExit: 2"
    assert errors["moss-plugin-needs-libfoo"]["reason"] == (
        "ImportError: moss-plugin-needs-libfoo needs the libfoo system library"
    )
    assert errors["moss-plugin-needs-libfoo"]["entry_point"] == "needs_libfoo"
    assert (
        "must take exactly one required text argument" in errors["moss-plugin-two-args"]["reason"]
    )
    assert "already a plugin called 'Calculate'" in errors["moss-plugin-clash"]["reason"]
    # Everything that could load did, the built-in Calculate untouched by the clash.
    assert {"Calculate", "Solve", "Search", "Convert"} <= set(seen["names"])
    assert "Weigh" not in seen["names"]
    assert "PartA" not in seen["names"]  # registered before its package failed: taken back

    listed = cli("plugins", sites=(units_site, bad))
    assert "Convert " in listed.stdout
    failure = (
        "moss-plugin-needs-libfoo (needs_libfoo): ImportError: "
        "moss-plugin-needs-libfoo needs the libfoo system library"
    )
    assert f"failed to load {failure}" in listed.stderr
    # Listed once, not logged as well.
    assert listed.stderr.count("needs the libfoo system library") == 1


def test_the_example_package_passes_its_own_tests() -> None:
    # From the repository root, with the example's own pytest configuration; no cache folder.
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-c", str(EXAMPLE / "pyproject.toml"), "--rootdir", str(EXAMPLE), str(EXAMPLE / "tests")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
