"""Web addresses in a post: which site a link really goes to, and whether it dresses as the university's.

Phishing that imitates the institution hides the real site behind a familiar prefix
(`cw.xxdx.edu.cn.kx8.top` is a site under `kx8.top`) or a look-alike name (`xxdx-cwc.com`,
`hr-xxdx.cn`). The site that counts is the registrable domain: the last two labels, or three when the
second-level label is a public suffix such as `edu.cn` or `com.cn`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

# second-level labels under a country code that are public suffixes (edu.cn, com.cn, gov.cn…)
_SECOND_LEVEL = frozenset({"edu", "gov", "com", "net", "org", "ac", "mil"})
_OFFICIAL_SUFFIXES = ("edu.cn", "gov.cn")
_HOST = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://)?([a-z0-9.\-]+)", re.I)
_INSTITUTIONAL_LABEL = re.compile(r"(?:^|[.\-])(?:edu|gov)(?:[.\-]|$)")


def host_of(url: str) -> str:
    """The host of a link as written in a post (scheme, path and port dropped), lower case."""
    m = _HOST.match(url.strip().lower())
    return m.group(1).strip(".-") if m else ""


def registered_domain(host: str) -> str:
    """The registrable domain of a host: `cw.xxdx.edu.cn.kx8.top` → `kx8.top`, `a.xxdx.edu.cn` → `xxdx.edu.cn`."""
    labels = [x for x in host.lower().strip(".").split(".") if x]
    if len(labels) <= 2:
        return ".".join(labels)
    if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@dataclass(frozen=True)
class Lookalike:
    host: str  # as written
    real: str  # the registrable domain the link really goes to
    imitates: str  # what it dresses as: a configured official domain, or "edu.cn" / "gov.cn"

    @property
    def reason_zh(self) -> str:
        return f"网址“{self.host}”冒充{self.imitates}，实际是 {self.real} 的网站"


def is_official(host: str, official_domains: Sequence[str] = ()) -> bool:
    """The host is under a configured official domain, or (none configured) any edu.cn / gov.cn site."""
    host = host.lower().strip(".")
    domains = official_domains or _OFFICIAL_SUFFIXES
    return any(host == d or host.endswith("." + d) for d in domains)


def lookalike(host: str, official_domains: Sequence[str] = ()) -> Lookalike | None:
    """Why a host imitates an official site, or None. Without configured domains only the generic
    tricks count (an `edu.cn` / `gov.cn` prefix on another site, `edu` or `gov` as a label of a
    non-institutional site); with them, also any other site whose name carries the university's
    own label (`xxdx` of `xxdx.edu.cn`)."""
    host = host.lower().strip(".")
    if not host or "." not in host or is_official(host, official_domains):
        return None
    real = registered_domain(host)
    for d in official_domains:
        label = d.lower().split(".")[0]
        if len(label) >= 3 and re.search(rf"(?:^|[.\-]){re.escape(label)}(?:[.\-]|$)", host):
            return Lookalike(host, real, d)
    if is_official(host):  # another university's site: not a look-alike of ours
        return None
    for suffix in _OFFICIAL_SUFFIXES:
        if f".{suffix}." in f".{host}" or host.startswith(suffix + "."):
            return Lookalike(host, real, f"“{suffix}”官方网站")
    if _INSTITUTIONAL_LABEL.search(host[: -len(real)] if host.endswith(real) else host) or \
            _INSTITUTIONAL_LABEL.search(real.split(".")[0]):
        return Lookalike(host, real, "学校或政府网站")
    return None


def lookalikes(urls: Iterable[str], official_domains: Sequence[str] = ()) -> list[Lookalike]:
    out: list[Lookalike] = []
    for u in urls:
        found = lookalike(host_of(u), official_domains)
        if found is not None and found not in out:
            out.append(found)
    return out
