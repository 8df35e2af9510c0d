"""Readers and regridding for real products (CMEMS/DUACS altimetry, OISST/OSTIA SST, ERA5).

:mod:`oceane2e.data.converters.prepare` puts them together into a data folder of the contract.
"""
