"""The hidden install cell: the release it installs, and what a learner sees when the install fails."""

import subprocess
import sys

from bootstrap_cell import bootstrap_source, release_tag

import gvcourse


def test_the_cell_installs_the_release_of_this_version():
    assert release_tag() == f"v{gvcourse.__version__}"
    assert f"@{release_tag()}\"" in bootstrap_source()


def test_a_failed_install_stops_with_one_clear_sentence():
    # gvcourse "missing" (None in sys.modules makes the import fail) and a source pip cannot reach
    cell = bootstrap_source(url="file:///nonexistent/course", tag="v0")
    code = "import sys; sys.modules['gvcourse'] = None\n" + cell
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Could not install the course package" in proc.stderr
    assert "restart the kernel" in proc.stderr
    assert "Traceback" not in proc.stderr and "CalledProcessError" not in proc.stderr
