"""``saas-license connect``: give a profile's connection its credentials (OAuth2 or an API key).

Shows the vendor permissions first, then either runs the OAuth2 authorization code flow for a
person (authorize URL printed and opened, redirect caught on 127.0.0.1, ``state`` checked, token
stored in the owner-only secrets file) or stores an API key read from the environment or stdin.
"""

from __future__ import annotations

import contextlib
import os
import sys
import webbrowser

import click

from ..errors import ConfigError
from ..http import DEFAULT_REDIRECT_URI, LoopbackRedirect
from ..secrets import Secret
from . import _State, cli
from ._output import echo_table


def _secret_from(env: str | None, stdin: bool, what: str, option: str) -> Secret | None:
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigError(
                f"environment variable {env} is empty or unset", field=f"{option}-env"
            )
        return Secret(value)
    if stdin:
        value = sys.stdin.readline().strip()
        if not value:
            raise ConfigError(f"no {what} on standard input", field=f"{option}-stdin")
        return Secret(value)
    return None


def _open_browser(url: str) -> None:
    with contextlib.suppress(webbrowser.Error):  # the URL is printed; it can be opened by hand
        webbrowser.open(url, new=2)


@cli.command("connect")
@click.argument("profile")
@click.option("--client-id", help="OAuth2 client id of the application registered with the vendor.")
@click.option(
    "--client-secret-env", metavar="VAR", help="Read the OAuth2 client secret from this variable."
)
@click.option(
    "--client-secret-stdin", is_flag=True, help="Read the OAuth2 client secret from standard input."
)
@click.option(
    "--redirect-uri",
    default=DEFAULT_REDIRECT_URI,
    show_default=True,
    help="Redirect URI registered with the vendor; a 127.0.0.1 address is listened on.",
)
@click.option(
    "--paste",
    is_flag=True,
    help="Do not listen: paste the URL the browser was redirected to (headless machines).",
)
@click.option("--no-browser", is_flag=True, help="Print the authorize URL without opening it.")
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=300,
    show_default=True,
    help="Seconds to wait for the redirect.",
)
@click.option("--api-key-env", metavar="VAR", help="Use an API key from this variable instead.")
@click.option("--api-key-stdin", is_flag=True, help="Use an API key from standard input instead.")
@click.pass_obj
def connect(
    state: _State,
    profile: str,
    client_id: str | None,
    client_secret_env: str | None,
    client_secret_stdin: bool,
    redirect_uri: str,
    paste: bool,
    no_browser: bool,
    timeout: float,
    api_key_env: str | None,
    api_key_stdin: bool,
) -> None:
    """Connect PROFILE to its vendor account: OAuth2 for a person, or an API key."""
    for env, stdin, option in (
        (api_key_env, api_key_stdin, "--api-key"),
        (client_secret_env, client_secret_stdin, "--client-secret"),
    ):
        if env and stdin:
            raise ConfigError(
                f"give one of {option}-env and {option}-stdin, not both", field=f"{option}-stdin"
            )
    ws = state.open()
    prof = ws.profile(profile)
    info = ws.spokes.get(prof.spoke).info()
    click.echo(f"{info.display_name} needs these permissions for the integration user:")
    echo_table(
        ["process", "vendor role", "scopes", "why"],
        [
            (p.process.value, p.vendor_role, ", ".join(p.scopes) or "none", p.note)
            for p in info.permissions
        ],
    )
    key = _secret_from(api_key_env, api_key_stdin, "API key", "--api-key")
    if key is not None:
        alias = ws.connect_api_key(profile, key)
        click.echo(f"alias {alias.name}: API key stored in the owner-only secrets file")
        click.echo(f"next: saas-license validate {profile}")
        return
    if not client_id:
        raise ConfigError(
            "give --client-id (OAuth2) or --api-key-env/--api-key-stdin (API key)",
            field="--client-id",
            hint="register an OAuth application with the vendor to get a client id and secret",
        )
    secret = _secret_from(
        client_secret_env, client_secret_stdin, "client secret", "--client-secret"
    )
    if secret is None:
        raise ConfigError(
            "the OAuth2 client secret is needed",
            field="--client-secret-env",
            hint="pass --client-secret-env VAR or --client-secret-stdin (never on the command line)",
        )
    if paste:
        url = ws.oauth_begin(
            profile, client_id=client_id, client_secret=secret, redirect_uri=redirect_uri
        )
        click.echo(f"\nOpen this URL, approve, then paste the address you land on:\n\n  {url}\n")
        if not no_browser:
            _open_browser(url)
        redirected = click.prompt("redirected URL", hide_input=True).strip()
    else:
        with LoopbackRedirect(redirect_uri) as listener:
            url = ws.oauth_begin(
                profile,
                client_id=client_id,
                client_secret=secret,
                redirect_uri=listener.redirect_uri,
            )
            click.echo(f"\nOpen this URL and approve access:\n\n  {url}\n")
            click.echo(f"waiting for the redirect on {listener.redirect_uri} …", err=True)
            if not no_browser:
                _open_browser(url)
            redirected = listener.wait(timeout)
    token = ws.oauth_complete(profile, redirected)
    lifetime = (
        "does not expire"
        if token.expires_at is None
        else ("refreshes automatically" if token.refreshable else "expires; connect again then")
    )
    click.echo(f"connected: token stored in the owner-only secrets file ({lifetime})")
    click.echo(f"next: saas-license validate {profile}")
