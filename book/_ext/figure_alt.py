"""Sphinx extension: give notebook figures the alt text stored in their output metadata.

gvcourse's figure helpers attach alt text to each figure; in a notebook the PNG output then
carries ``{"image/png": {"alt": "..."}}`` as output metadata. myst-nb copies only width and
height from output metadata, so this extension wraps its image renderer to copy ``alt`` too.
"""

from __future__ import annotations

from myst_nb.core.render import NbElementRenderer


def _with_alt(render_image):
    def render_image_with_alt(self, data):
        nodes = render_image(self, data)
        alt = data.output_metadata.get(data.mime_type, {}).get("alt")
        if alt:
            for node in nodes:
                node["alt"] = str(alt)
        return nodes

    render_image_with_alt.__wrapped__ = render_image
    return render_image_with_alt


def setup(app):
    if not hasattr(NbElementRenderer.render_image, "__wrapped__"):
        NbElementRenderer.render_image = _with_alt(NbElementRenderer.render_image)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
