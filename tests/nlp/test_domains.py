"""Look-alike links: which site a link really goes to, and when it dresses as the university's."""
from __future__ import annotations

from hypothesis import given, strategies as st

from nlp.domains import host_of, is_official, lookalike, registered_domain

LABEL = st.from_regex(r"[a-z][a-z0-9]{1,7}", fullmatch=True).filter(lambda s: s not in ("edu", "gov", "com", "net", "org", "ac", "mil"))
TLD = st.sampled_from(["top", "com", "cc", "xyz", "vip", "net", "cn"])


def test_registered_domain_keeps_public_suffixes():
    assert registered_domain("cw.xxdx.edu.cn.kx8.top") == "kx8.top"
    assert registered_domain("hr.xxdx.edu.cn") == "xxdx.edu.cn"
    assert registered_domain("a.b.example.com.cn") == "example.com.cn"
    assert registered_domain("t.cn") == "t.cn"


def test_host_of_drops_scheme_path_and_port():
    assert host_of("https://Mail.XXDX.edu.cn:8443/owa?x=1") == "mail.xxdx.edu.cn"
    assert host_of("xxdx-cwc.com/bx") == "xxdx-cwc.com"


@given(office=LABEL, school=LABEL, site=LABEL, tld=TLD)
def test_an_edu_prefix_on_another_site_is_a_lookalike(office, school, site, tld):
    host = f"{office}.{school}.edu.cn.{site}.{tld}"
    found = lookalike(host)
    assert found is not None and found.real == registered_domain(host) == f"{site}.{tld}"
    assert found.real in found.reason_zh and host in found.reason_zh


@given(office=LABEL, school=LABEL)
def test_real_university_sites_are_official_not_lookalikes(office, school):
    host = f"{office}.{school}.edu.cn"
    assert is_official(host) and lookalike(host) is None
    assert lookalike(host, (f"{school}.edu.cn",)) is None


@given(school=LABEL.filter(lambda s: len(s) >= 3), other=LABEL, tld=TLD, sep=st.sampled_from(["-", "."]),
       before=st.booleans())
def test_with_configured_domains_any_other_site_carrying_the_name_is_a_lookalike(school, other, tld, sep, before):
    name = f"{school}{sep}{other}" if before else f"{other}{sep}{school}"
    host = f"{name}.{tld}"
    found = lookalike(host, (f"{school}.edu.cn",))
    assert found is not None and found.imitates == f"{school}.edu.cn"


@given(site=LABEL, tld=TLD)
def test_ordinary_sites_are_neither_official_nor_lookalikes(site, tld):
    assert lookalike(f"www.{site}.{tld}") is None
    assert not is_official(f"www.{site}.{tld}")


def test_another_universitys_site_is_not_a_lookalike_of_ours():
    assert lookalike("www.pku.edu.cn", ("xxdx.edu.cn",)) is None
    assert lookalike("xxdx-edu.cn") is not None  # edu as a label of a .cn name
