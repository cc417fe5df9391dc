"""The website builds with -W -n --keep-going (every warning is an error) and its pages are sound."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from notebooks import ROOT, toc_notebooks


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    command = [shutil.which("jupyter-book") or "jupyter-book", "build", str(ROOT), "-W", "-n", "--keep-going",
               "--path-output", str(out)]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out / "_build" / "html"


def test_every_chapter_page_is_built(site):
    for nb in toc_notebooks():
        page = site / nb.relative_to(ROOT).with_suffix(".html")
        assert page.is_file(), f"missing page {page.name}"


def test_images_have_alt_text_and_pages_are_light(site):
    for nb in toc_notebooks():
        page = site / nb.relative_to(ROOT).with_suffix(".html")
        html = page.read_text()
        for img in re.findall(r"<img [^>]*>", html):
            if "logo" in img:
                continue
            alt = re.search(r'alt="([^"]*)"', img)
            assert alt and len(alt.group(1)) > 20, f"{page.name}: image without alt text: {img[:120]}"
        assert page.stat().st_size < 5_000_000


def test_exercises_and_citations_render(site):
    for nb in toc_notebooks():
        html = (site / nb.relative_to(ROOT).with_suffix(".html")).read_text()
        if nb.stem == "intro":
            continue
        assert html.count('class="admonition exercise') + html.count("exercise admonition") >= 2 or \
            len(re.findall(r'exercise', html)) >= 4, f"{nb.name}: fewer than two exercises"
        assert "solution" in html and "dropdown" in html
        assert 'class="reference internal"' in html


def test_launch_links_point_at_the_real_notebooks(site):
    from bootstrap_cell import repository_url

    repo = repository_url().removeprefix("https://github.com/")
    for nb in toc_notebooks():
        rel = nb.relative_to(ROOT)
        html = (site / rel.with_suffix(".html")).read_text()
        binder = f"https://mybinder.org/v2/gh/{repo}/main?urlpath=lab/tree/{rel.as_posix()}"
        colab = f"https://colab.research.google.com/github/{repo}/blob/main/{rel.as_posix()}"
        assert binder in html, f"{rel}: no Binder link {binder}"
        assert colab in html, f"{rel}: no Colab link {colab}"
        assert (ROOT / rel).is_file()
