"""Sphinx 7.4 writes some inline scripts twice (sphinx-thebe, togglebutton), which raises
"Identifier 'THEBE_JS_URL' has already been declared" in the browser. The cause is a
None-vs-'' filename mix-up in Sphinx's asset de-duplication (fixed upstream in Sphinx 8.2,
sphinx-doc/sphinx#13402; Jupyter Book 1.x needs Sphinx 7). Normalising the filename of
inline scripts to '' lets Sphinx recognise the duplicates again."""


def setup(app):
    add = app.add_js_file

    def add_js_file(filename, priority=500, loading_method=None, **kwargs):
        return add(filename or "", priority=priority, loading_method=loading_method, **kwargs)

    app.add_js_file = add_js_file
    return {"parallel_read_safe": True, "parallel_write_safe": True}
