//! Workbooks filled and saved by LibreOffice, one per reason code.
