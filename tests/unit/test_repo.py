"""Repository rules: the library never imports streamlit, pins are exact, README and CI agree."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_library_never_imports_streamlit() -> None:
    code = (
        "import sys, playground, playground.bundle, playground.models, playground.data, playground.training, "
        "playground.inspection.predict, playground.inspection.features, playground.figures.viz, playground.cli.main, playground.modalities.image.decode, playground.bundle.runs; "
        "print('streamlit' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_requirements_pinned_exactly() -> None:
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r")):
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][A-Za-z0-9.+]*", line), (
                    f"{name}: {line!r} is not pinned"
                )


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci_lines = [ln for ln in (ROOT / ".ci/run").read_text().splitlines() if ln.startswith("python3 -m venv")]
    assert len(ci_lines) == 1
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    assert ci_lines[0] in blocks, "the README's test command and .ci/run differ"
    assert any(b.endswith("streamlit run app.py") for b in blocks), "the README's app command is missing"


def test_every_page_file_exists() -> None:
    sys.path.insert(0, str(ROOT))
    from ui.pages import PAGES

    for page in PAGES:
        assert (ROOT / page.path).is_file(), page.path
