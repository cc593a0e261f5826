"""The ODM 1.3.2 namespace and element maker the ODM and define.xml writers share."""

from __future__ import annotations

from typing import Final

from lxml import etree

ODM_NS: Final = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"


def E(tag: str) -> str:  # reads as the element's name, as lxml's ElementMaker does
    return f"{{{ODM_NS}}}{tag}"


def element(tag: str, **attributes: str) -> etree._Element:
    return etree.Element(E(tag), attrib=attributes, nsmap={None: ODM_NS})
