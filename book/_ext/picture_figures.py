"""Chapter figures that stay sharp at any width (HTML builders only; the PDF uses the glued PNG as it is).

`deeplinear_book.figure` glues each figure as a PNG at 192 pixels per figure inch and stores, in the glued output's
metadata (``companion.phone``), a phone rendition: the figure re-laid in one column, 4 inches wide, at the same
resolution. Here each image whose PNG a notebook glued that way becomes::

    <picture class="companion-figure">
      <source media="(max-width: 640px)" srcset="_images/<sha256 of the phone PNG>.png" width=.. height=..>
      <img src="_images/<the glued PNG>.png" width=.. height=.. alt=..>
    </picture>

with both shown at half their pixel size (96 CSS px per figure inch, 2 image pixels per CSS px). The phone PNG is
written beside the others in ``_images``. An image is matched to its notebook output by the sha256 of its bytes, so a
figure shown on another page (book/_ext/landing.py's ``glued-figure``) gets its phone rendition too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import urllib.parse
from html import escape
from pathlib import Path

from docutils import nodes

# Below this viewport width the phone rendition is served (companion.css's phone rules use the same width).
PHONE_MEDIA = "(max-width: 640px)"
PNG_MIMES = ("application/papermill.record/image/png", "image/png")


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's header."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def renditions(notebooks) -> dict[str, bytes]:
    """sha256 of each glued figure's PNG -> its phone rendition's PNG, over the given notebook files."""
    found: dict[str, bytes] = {}
    for path in notebooks:
        for cell in json.loads(Path(path).read_text(encoding="utf-8")).get("cells", []):
            for output in cell.get("outputs", []):
                phone = (
                    output.get("metadata", {})
                    .get("companion", {})
                    .get("phone", {})
                    .get("image/png")
                )
                data = next(
                    (
                        output["data"][m]
                        for m in PNG_MIMES
                        if m in output.get("data", {})
                    ),
                    None,
                )
                if phone and data:
                    found[hashlib.sha256(base64.b64decode(data)).hexdigest()] = (
                        base64.b64decode(phone)
                    )
    return found


def _renditions(builder) -> dict[str, bytes]:
    cached = getattr(builder, "_companion_renditions", None)
    if cached is None:
        env = builder.env
        notebooks = [env.doc2path(d) for d in sorted(env.found_docs)]
        cached = renditions(p for p in notebooks if str(p).endswith(".ipynb"))
        builder._companion_renditions = cached
    return cached


def picture(
    src: str, size: tuple[int, int], phone_src: str, phone_size: tuple[int, int], node
) -> str:
    """The <picture> element of one figure (sizes in image pixels, shown at half)."""
    alt = escape(node.get("alt", ""), quote=True)
    classes = " ".join(node.get("classes", []))
    style = (
        f' style="width: {escape(node["width"])}"'
        if str(node.get("width", "")).endswith("%")
        else ""
    )
    return (
        '<picture class="companion-figure">'
        f'<source media="{PHONE_MEDIA}" srcset="{phone_src}" width="{phone_size[0] // 2}" '
        f'height="{phone_size[1] // 2}">'
        f'<img src="{src}" alt="{alt}" width="{size[0] // 2}" height="{size[1] // 2}"'
        + (f' class="{escape(classes)}"' if classes else "")
        + f"{style}></picture>"
    )


def visit_image(self, node) -> None:
    """An image glued by `deeplinear_book.figure` as a <picture>; any other image as the builder writes it."""
    uri = node["uri"]
    if uri in self.builder.images and uri.lower().endswith(".png"):
        path = Path(self.builder.srcdir) / uri
        data = path.read_bytes() if path.is_file() else b""
        phone = _renditions(self.builder).get(hashlib.sha256(data).hexdigest())
        if phone is not None:
            name = f"{hashlib.sha256(phone).hexdigest()}.png"
            target = Path(self.builder.outdir) / self.builder.imagedir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.write_bytes(phone)
            src = posixpath.join(
                self.builder.imgpath, urllib.parse.quote(self.builder.images[uri])
            )
            phone_src = posixpath.join(self.builder.imgpath, name)
            self.body.append(
                picture(src, png_size(data), phone_src, png_size(phone), node)
            )
            raise nodes.SkipNode
    type(self).visit_image(self, node)


def depart_image(self, node) -> None:
    type(self).depart_image(self, node)


def setup(app):
    app.add_node(nodes.image, override=True, html=(visit_image, depart_image))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
