"""Events: bitmaps and expressions, event handles, the query language,
marking, reading, bulk import.
"""
