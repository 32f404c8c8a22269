import asyncio
import ssl

import discord.gateway
import discord.http
import pytest
import trustme

from pandora.discord_connection import DEFAULT_API_URL, DEFAULT_GATEWAY_URL, DiscordConnection


def test_defaults_point_at_discord() -> None:
    connection = DiscordConnection.from_env({})
    assert connection.api_url == DEFAULT_API_URL == "https://discord.com/api/v10"
    assert connection.gateway_url == DEFAULT_GATEWAY_URL
    assert connection.ca_file is None


@pytest.fixture
def restore_discord_urls():
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


async def test_apply_points_discord_py_at_the_contract(tmp_path, restore_discord_urls) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    connection = DiscordConnection.from_env(
        {
            "PANDORA_DISCORD_API_URL": "http://127.0.0.1:9999/api/v10/",
            "PANDORA_DISCORD_GATEWAY_URL": "ws://127.0.0.1:9999/gateway",
            "PANDORA_DISCORD_CA_FILE": str(ca_file),
        }
    )
    kwargs = connection.apply()
    assert discord.http.Route.BASE == "http://127.0.0.1:9999/api/v10"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9999/gateway"
    route = discord.http.Route("GET", "/users/@me")
    assert route.url == "http://127.0.0.1:9999/api/v10/users/@me"
    await kwargs["connector"].close()


def test_ssl_context_trusts_the_extra_ca(tmp_path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = DiscordConnection(ca_file=str(ca_file)).ssl_context()
    subjects = [dict(item[0] for item in cert["subject"]) for cert in context.get_ca_certs()]
    assert any("trustme" in subject.get("organizationName", "") for subject in subjects)
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_missing_ca_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        DiscordConnection(ca_file=str(tmp_path / "missing.pem")).ssl_context()



async def _handshake(context: ssl.SSLContext, server_context: ssl.SSLContext) -> None:
    server = await asyncio.start_server(lambda reader, writer: writer.close(), "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        writer.close()
    finally:
        server.close()


async def test_ca_given_as_text_is_trusted_like_a_file() -> None:
    """A pod's environment is all the chart's recorder.env can give it: the CA can come as PEM text."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    connection = DiscordConnection.from_env({"PANDORA_DISCORD_CA_PEM": ca.cert_pem.bytes().decode()})
    await _handshake(connection.ssl_context(), server_context)
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(DiscordConnection.from_env({}).ssl_context(), server_context)
