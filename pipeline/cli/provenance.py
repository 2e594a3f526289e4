"""`dubline provenance`: show and verify the provenance of published outputs; make the C2PA signer."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.console import console, err_console, errors
from pipeline.core.config import get_settings

provenance_app = typer.Typer(help="Provenance manifests of published outputs.", no_args_is_help=True)


@provenance_app.command("show")
@errors
def provenance_show(uri: Annotated[str, typer.Argument(help="a published output: path, file:// or s3:// URI")]) -> None:
    """Print the output's provenance manifest."""
    from pipeline.ledger import verification

    console.print_json(json.dumps(verification.show(get_settings(), uri), default=str))


@provenance_app.command("verify")
@errors
def provenance_verify(
    uri: Annotated[str, typer.Argument(help="a published output: path, file:// or s3:// URI")],
) -> None:
    """Recompute the hashes of the output and of its whole chain of inputs, check the C2PA manifest of a
    signed mp4/m4a (signature, hash binding, certificate); report each mismatch or sign of tampering."""
    from pipeline.ledger import verification

    checked, bad = verification.verify(get_settings(), uri)
    for line in checked:
        console.print(f"  [green]ok[/]       {escape(line.removesuffix(': ok'))}")
    for line in bad:
        err_console.print(f"  [red]mismatch[/] {escape(line)}")
    if bad:
        raise typer.Exit(7)
    credentials = [line for line in checked if line.startswith("C2PA manifest")]
    note = "; C2PA manifest intact (signature, hash binding, this project's CA)" if credentials else ""
    console.print(f"[green]verified[/]: {len(checked) - len(credentials)} hashes match{note}")


@provenance_app.command("init-signer")
@errors
def init_signer(
    force: Annotated[bool, typer.Option(help="make a new certificate and key even if the present ones work")] = False,
) -> None:
    """Make the project-local C2PA signing certificate (a small CA and an ES256 signer) if it is missing,
    unusable or about to expire; otherwise only check it. DUBLINE_C2PA_CERT_DIR says where."""
    from pipeline.ledger.certificates import init_signer as make
    from pipeline.ledger.watermark_key import PUBLIC_KEY_WARNING, init_key, is_public

    settings = get_settings()
    files, made = make(settings, force=force)
    state = "made" if made else "present and usable"
    console.print(
        f"C2PA signing certificate {state}: {files.chain} (CA {files.ca_cert}), fingerprint {files.fingerprint()}"
    )
    key, made = init_key(settings)  # never replaced by --force: the marks already made are read with it
    console.print(f"watermark key {'made' if made else 'present'}: {key} (readable by its owner only)")
    if is_public(settings.watermark_key.get_secret_value()):
        console.print(f"[yellow]warning[/]: {PUBLIC_KEY_WARNING}")
