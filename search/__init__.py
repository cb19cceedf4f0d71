"""blogsearch: full-text search for a Japanese Jekyll blog.

The engine (loading posts, analysis, schema, indexing, queries) lives in this
package and does not import Flask; the web app is in the ``web`` package.
"""

__version__ = "0.1.0"
