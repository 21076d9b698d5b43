"""Sphinx extension: drop repeated <script> entries from every page.

Under Jupyter Book 1.0.4, sphinx-thebe 0.3.1's inline configuration script
(`const THEBE_JS_URL = ...`) reaches each page twice (once registered with the
file name None, once with ''), and the second copy throws "Identifier
'THEBE_JS_URL' has already been declared" in the browser console.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""
        key = (str(filename), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
