"""One package per product: dubbing today, audio description and audiobooks next. A product owns only its
own stages and contracts; shared machinery lives in the packages by concern. Products never import each
other (import-linter checks it).
"""
