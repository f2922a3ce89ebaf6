"""The SSRF guard decides on the address a host stands for, however it is spelt."""

from __future__ import annotations

import httpx
import pytest

from app.platform.outbound import InternalTarget, check_url, guarded_client, is_public, normal_host

# Each spelling of an internal IPv4 (loopback, private, link-local) the guard must see through.
INTERNAL = [
    pytest.param("127.0.0.1", id="loopback"),
    pytest.param("2130706433", id="decimal-loopback"),
    pytest.param("0177.0.0.1", id="octal-loopback"),
    pytest.param("0x7f.0.0.1", id="hex-loopback"),
    pytest.param("127.1", id="short-loopback"),
    pytest.param("0", id="zero"),
    pytest.param("10.0.0.7", id="private"),
    pytest.param("012.0.0.7", id="octal-private"),
    pytest.param("169.254.169.254", id="link-local-metadata"),
    pytest.param("2852039166", id="decimal-link-local-metadata"),
    pytest.param("::ffff:127.0.0.1", id="ipv4-mapped-loopback"),
    pytest.param("::ffff:a9fe:a9fe", id="ipv4-mapped-link-local"),
    pytest.param("::127.0.0.1", id="ipv4-compatible-loopback"),
    pytest.param("::c0a8:101", id="ipv4-compatible-private"),
    pytest.param("64:ff9b::127.0.0.1", id="nat64-loopback"),
    pytest.param("64:ff9b::a9fe:a9fe", id="nat64-link-local"),
    pytest.param("64:ff9b:1::808:808", id="nat64-local-use-prefix"),
    pytest.param("2002:7f00:1::1", id="6to4-loopback"),
    pytest.param("2002:c0a8:101::1", id="6to4-private"),
    pytest.param("2001:0:4136:e378:8000:63bf:3fff:fdd2", id="teredo-documentation-client"),
    pytest.param("2001:0:0a00:7:0:0:f5ff:fff8", id="teredo-private-server"),
    pytest.param("2001:0:808:808:0:0:3f57:fefe", id="teredo-private-client"),
    pytest.param("::1", id="ipv6-loopback"),
    pytest.param("fe80::1", id="ipv6-link-local"),
    pytest.param("fd00::1", id="ipv6-unique-local"),
    pytest.param("::", id="ipv6-unspecified"),
    pytest.param("224.0.0.1", id="multicast"),
]
# The same forms embedding a public IPv4 (8.8.8.8): an address, not a spelling, is refused.
PUBLIC = [
    pytest.param("8.8.8.8", id="public"),
    pytest.param("134744072", id="decimal-public"),
    pytest.param("010.010.010.010", id="octal-public"),
    pytest.param("::ffff:8.8.8.8", id="ipv4-mapped-public"),
    pytest.param("::8.8.8.8", id="ipv4-compatible-public"),
    pytest.param("64:ff9b::8.8.8.8", id="nat64-public"),
    pytest.param("2002:808:808::1", id="6to4-public"),
    pytest.param("2001:0:808:808:0:0:f7f7:f7f7", id="teredo-public"),
    pytest.param("2606:4700:4700::1111", id="ipv6-public"),
]


def _url(host: str) -> str:
    return f"https://[{host}]/hook" if ":" in host else f"https://{host}/hook"


class TestEveryAddressForm:
    @pytest.mark.parametrize("host", INTERNAL)
    def test_an_address_that_is_or_embeds_an_internal_ipv4_is_refused(self, host: str) -> None:
        assert not is_public(host)
        with pytest.raises(InternalTarget):
            check_url(_url(host), allowed_hosts=(), allow_plain_http=False)

    @pytest.mark.parametrize("host", PUBLIC)
    def test_the_same_form_embedding_a_public_ipv4_is_allowed(self, host: str) -> None:
        assert is_public(host)
        check_url(_url(host), allowed_hosts=(), allow_plain_http=False)

    @pytest.mark.parametrize("host", ["localhost", "localhost.", "LOCALHOST..", "db.internal.", "printer.local.",
                                      "app.localhost", "127.0.0.1.", "2130706433."])
    def test_internal_names_are_refused_with_or_without_trailing_dots(self, host: str) -> None:
        with pytest.raises(InternalTarget):
            check_url(f"https://{host}/hook", allowed_hosts=(), allow_plain_http=False)

    @pytest.mark.parametrize(("spelt", "normal"), [("LocalHost.", "localhost"), ("[::1]", "::1"),
                                                   ("0177.0.0.1", "127.0.0.1"), ("0x7f000001", "127.0.0.1"),
                                                   ("127.1", "127.0.0.1"), ("hooks.example.org.", "hooks.example.org"),
                                                   ("08.1", "08.1"), ("1.2.3.4.5", "1.2.3.4.5")])
    def test_a_host_is_normalised_as_the_resolver_reads_it(self, spelt: str, normal: str) -> None:
        assert normal_host(spelt) == normal


class TestTheAllowList:
    @pytest.mark.parametrize("url", ["http://127.0.0.1:8080/h", "http://2130706433:8080/h", "http://127.0.0.1.:8080/h",
                                     "http://0177.0.0.1:8080/h"])
    def test_an_allowed_host_passes_however_it_is_spelt(self, url: str) -> None:
        check_url(url, allowed_hosts=["127.0.0.1"], allow_plain_http=False)

    @pytest.mark.parametrize("url", ["http://localhost./h", "https://localhost/h"])
    def test_an_allowed_name_passes_with_its_trailing_dot(self, url: str) -> None:
        check_url(url, allowed_hosts=["LOCALHOST"], allow_plain_http=False)

    def test_allowing_one_host_lets_no_other_through(self) -> None:
        with pytest.raises(InternalTarget):
            check_url("https://10.0.0.7/h", allowed_hosts=["127.0.0.1"], allow_plain_http=False)
        with pytest.raises(ValueError, match="https"):
            check_url("http://hooks.example.org/h", allowed_hosts=["127.0.0.1"], allow_plain_http=False)


class TestAtConnectTime:
    @pytest.mark.parametrize("host", ["[::ffff:127.0.0.1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "2130706433.",
                                      "localhost."])
    async def test_the_resolved_address_is_decided_again(self, host: str) -> None:
        async with guarded_client((), timeout=1) as http:
            with pytest.raises(httpx.ConnectError, match="non-public|does not resolve"):
                await http.post(f"http://{host}:9/h", content=b"{}")

    async def test_a_name_that_does_not_resolve_is_a_connect_error_not_a_resolver_error(self) -> None:
        async with guarded_client((), timeout=1) as http:
            with pytest.raises(httpx.ConnectError, match="does not resolve"):
                await http.post("http://receiver.invalid/h", content=b"{}")
