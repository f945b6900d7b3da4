"""mkdocs hook: the repository files that pages link to (configs, results files, figures) join the site.

A page under docs/ links to a file elsewhere in the repository by a relative link that leaves docs/, for example
`../../configs/dcgan-fashion.yaml` from docs/results/fashion.md, so the link also works where the page is read as
a file of the repository. For the site such files are copied in under `repo/` (Markdown files become pages
there) and the links point there; a link to the README or the changelog goes to the site's own page. A link that
leaves docs/ towards a file that does not exist is left alone, so a strict build fails on it.
"""
from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

# a Markdown link or image target that starts by leaving its folder: ](../x) or ](../../x#anchor)
LINK = re.compile(r"(\]\()(\.\./[^)\s#]+)([^)]*\))")
SITE_FOLDER = "repo"
# repository pages the site has its own copy of: a link to them goes to that page
SITE_PAGES = {"README.md": "index.md", "CHANGELOG.md": "changelog.md"}


def _repo_target(page_uri: str, target: str, docs_dir: Path, repo_root: Path) -> str | None:
    """The repository path (posix, relative to its root) that `target` names from page `page_uri`, or None when
    the link stays inside docs/, leaves the repository, or names no file."""
    docs_rel = docs_dir.relative_to(repo_root).as_posix()
    joined = posixpath.normpath(posixpath.join(docs_rel, posixpath.dirname(page_uri), target))
    if joined.startswith("../") or joined.startswith(docs_rel + "/"):
        return None
    return joined if (repo_root / joined).is_file() else None


def on_files(files, config):
    docs_dir = Path(config["docs_dir"]).resolve()
    repo_root = Path(config["config_file_path"]).resolve().parent
    wanted: set[str] = set()
    for page in files.documentation_pages():
        text = Path(page.abs_src_path).read_text(encoding="utf-8")
        for match in LINK.finditer(text):
            path = _repo_target(page.src_uri, match.group(2), docs_dir, repo_root)
            if path is not None and path not in SITE_PAGES:
                wanted.add(path)
    for path in sorted(wanted):
        files.append(File.generated(config, f"{SITE_FOLDER}/{path}", abs_src_path=str(repo_root / path)))
    return files


def on_page_markdown(markdown, page, config, files):
    docs_dir = Path(config["docs_dir"]).resolve()
    repo_root = Path(config["config_file_path"]).resolve().parent

    def rewrite(match: re.Match) -> str:
        path = _repo_target(page.file.src_uri, match.group(2), docs_dir, repo_root)
        if path is None:
            return match.group(0)
        here = posixpath.dirname(page.file.src_uri) or "."
        target = SITE_PAGES.get(path, f"{SITE_FOLDER}/{path}")
        return match.group(1) + posixpath.relpath(target, here) + match.group(3)

    return LINK.sub(rewrite, markdown)
