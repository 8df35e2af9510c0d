"""Helpers for tests, benchmarks and documentation examples — not used by the library at run time.

Kept apart from the library on purpose: nothing under ``oceane2e`` outside this package imports it
(``tests/test_layering.py`` enforces that). ``folders`` writes tiny data folders of the contract;
``stand_ins`` writes files in the layouts of outside products (DUACS, OISST, OSTIA, ERA5) with
synthetic values, labelled as stand-ins, to test the converters where no real file can ship.
"""
