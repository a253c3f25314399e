"""The renderer: one letter from a template file in the contact's language, every block
rendered in the strict sandbox, checked for shape, or one clear error (see the package
docstring for its promises)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.runtime import Context

from outreach.headersafe import header_problem
from outreach.templating.context import CONTEXT_NAMES
from outreach.templating.errors import TemplateRenderError, as_render_error
from outreach.templating.filters import FILTERS
from outreach.templating.languages import normalise_tag, tag_chain
from outreach.templating.sandbox import RecordSandbox, StrictRecordUndefined

#: The file name extension of templates.
SUFFIX = ".j2"
#: Blocks every template (with its layouts) must define.
REQUIRED_BLOCKS = ("subject", "text")


@dataclass(frozen=True)
class RenderedEmail:
    """A fully rendered letter. ``template`` is the file actually used (``ccm/appeal.fr.j2``);
    ``language`` is the language it is written in: the variant's tag (``fr``), or the
    renderer's default language for the default file."""

    subject: str
    text: str
    html: str | None
    template: str
    language: str | None


@dataclass(frozen=True)
class RenderedDocument:
    """A rendered HTML document (a letter to print as PDF): the HTML, the file actually used
    and the language it is written in (as for :class:`RenderedEmail`)."""

    html: str
    template: str
    language: str | None


def _make_env(templates_dir: Path, *, autoescape: bool, auto_reload: bool) -> jinja2.Environment:
    """A strict sandboxed environment over ``templates_dir`` with our filters."""
    env = RecordSandbox(
        loader=jinja2.FileSystemLoader(str(templates_dir), encoding="utf-8"),
        autoescape=autoescape,
        undefined=StrictRecordUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=auto_reload,
        cache_size=1000,
    )
    env.filters.update(FILTERS)
    return env


def _clean_text(value: str) -> str:
    # "-- " (with its space) is the signature delimiter mail clients recognise; keep it.
    lines = [line.rstrip() for line in value.replace("\r\n", "\n").split("\n")]
    lines = ["-- " if line == "--" else line for line in lines]
    return "\n".join(lines).strip("\n") + "\n"


class TemplateRenderer:
    """Renders templates from ``templates_dir``. Build one per process and reuse it: it holds
    the two Jinja environments and the caches. Safe to share between threads (the caches are
    plain dicts whose worst race is computing an entry twice)."""

    def __init__(
        self,
        templates_dir: Path | str,
        *,
        default_language: str | None = "en",
        auto_reload: bool = True,
    ) -> None:
        self.templates_dir = Path(templates_dir)
        self.default_language = default_language
        self._text_env = _make_env(self.templates_dir, autoescape=False, auto_reload=auto_reload)
        self._html_env = _make_env(self.templates_dir, autoescape=True, auto_reload=auto_reload)
        # (template, normalised language) -> (file name, language written in, formatting tag)
        self._resolved: dict[tuple[str, str | None], tuple[str, str | None, str | None]] = {}
        # (env id, file name) -> (the template, its layouts nearest first)
        self._chains: dict[tuple[int, str], tuple[jinja2.Template, tuple[jinja2.Template, ...]]]
        self._chains = {}

    def clear_cache(self) -> None:
        """Forget resolved file names and layout chains (after adding or removing files)."""
        self._resolved.clear()
        self._chains.clear()

    # -- resolution --------------------------------------------------------------------------

    @staticmethod
    def _base(template: str) -> str:
        return template[: -len(SUFFIX)] if template.endswith(SUFFIX) else template

    def _resolve(self, template: str, language: str | None) -> tuple[str, str | None, str | None]:
        tag = normalise_tag(language)
        key = (template, tag)
        hit = self._resolved.get(key)
        if hit is not None:
            return hit
        base = self._base(template)
        tried: list[str] = []
        result: tuple[str, str | None, str | None] | None = None
        for variant in tag_chain(tag):
            name = f"{base}.{variant}{SUFFIX}"
            tried.append(name)
            if self._exists(name):
                result = (name, variant, tag)
                break
        if result is None:
            name = f"{base}{SUFFIX}"
            tried.append(name)
            if not self._exists(name):
                raise TemplateRenderError.at(
                    name, None, f"template not found (tried {', '.join(tried)})"
                )
            default = normalise_tag(self.default_language)
            same = (
                tag is not None
                and default is not None
                and tag.split("-")[0] == default.split("-")[0]
            )
            result = (name, default, tag if same else default)
        self._resolved[key] = result
        return result

    def _exists(self, name: str) -> bool:
        """Whether ``name`` loads; a file that exists but does not compile raises."""
        try:
            self._text_env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            if exc.name == name:
                return False
            raise as_render_error(exc, name) from exc
        except Exception as exc:
            raise as_render_error(exc, name) from exc
        return True

    def resolve(self, template: str, language: str | None) -> str:
        """The file used for ``template`` (``ccm/appeal``, with or without ``.j2``) in
        ``language`` (BCP 47, e.g. ``fr-CA``; ``None`` or a malformed tag means the default):
        ``ccm/appeal.fr-CA.j2``, else ``ccm/appeal.fr.j2``, else ``ccm/appeal.j2``. Raises
        :class:`TemplateRenderError` when none exists or the chosen file does not compile."""
        return self._resolve(template, language)[0]

    # -- layouts -----------------------------------------------------------------------------

    def _chain(
        self, env: jinja2.Environment, name: str
    ) -> tuple[jinja2.Template, tuple[jinja2.Template, ...]]:
        """The template and its layouts (nearest first), from ``{% extends "…" %}`` tags."""
        tmpl = env.get_template(name)
        key = (id(env), name)
        hit = self._chains.get(key)
        if (
            hit is not None
            and hit[0] is tmpl
            and (not env.auto_reload or all(p.is_up_to_date for p in hit[1]))
        ):
            return hit
        parents: list[jinja2.Template] = []
        seen = {name}
        current_name = name
        current = tmpl
        while True:
            parent_name, lineno = self._extends(env, current_name)
            if parent_name is None:
                break
            if parent_name in seen:
                raise TemplateRenderError.at(
                    current_name, lineno, f"layout cycle through {parent_name!r}"
                )
            seen.add(parent_name)
            try:
                current = env.get_template(parent_name)
            except jinja2.TemplateNotFound as exc:
                if exc.name != parent_name:
                    raise
                raise TemplateRenderError.at(
                    current_name, lineno, f"layout {parent_name!r} not found"
                ) from exc
            parents.append(current)
            current_name = parent_name
        result = (tmpl, tuple(parents))
        self._chains[key] = result
        return result

    @staticmethod
    def _extends(env: jinja2.Environment, name: str) -> tuple[str | None, int | None]:
        assert env.loader is not None
        source, filename, _ = env.loader.get_source(env, name)
        ast = env.parse(source, name, filename)
        for node in ast.find_all(nodes.Extends):
            if not isinstance(node.template, nodes.Const) or not isinstance(
                node.template.value, str
            ):
                raise TemplateRenderError.at(
                    name, node.lineno, "{% extends %} must name its layout as a literal string"
                )
            return node.template.value, node.lineno
        return None, None

    @staticmethod
    def _context(
        tmpl: jinja2.Template, parents: tuple[jinja2.Template, ...], variables: dict[str, Any]
    ) -> Context:
        ctx = tmpl.new_context(variables)
        for parent in parents:
            for block_name, func in parent.blocks.items():
                ctx.blocks.setdefault(block_name, []).append(func)
        return ctx

    # -- rendering ---------------------------------------------------------------------------

    def render(
        self, template: str, language: str | None, context: Mapping[str, Any]
    ) -> RenderedEmail:
        """Render ``template`` for a contact speaking ``language`` with ``context`` (see
        :func:`build_context`; the renderer adds ``locale``). Returns only a complete letter;
        any failure raises :class:`TemplateRenderError` with one line naming file and line."""
        name, written_in, tag = self._resolve(template, language)
        variables = dict(context)
        variables["locale"] = tag
        try:
            tmpl, parents = self._chain(self._text_env, name)
            ctx = self._context(tmpl, parents, variables)
            for block in REQUIRED_BLOCKS:
                if block not in ctx.blocks:
                    raise TemplateRenderError.at(name, None, f"no {{% block {block} %}}")
            subject = " ".join("".join(ctx.blocks["subject"][0](ctx)).split())
            text = _clean_text("".join(ctx.blocks["text"][0](ctx)))
            html: str | None = None
            htmpl, hparents = self._chain(self._html_env, name)
            hctx = self._context(htmpl, hparents, variables)
            if "html" in hctx.blocks:
                html = "".join(hctx.blocks["html"][0](hctx)).strip() + "\n"
        except Exception as exc:
            raise as_render_error(exc, name) from exc
        if not subject:
            raise TemplateRenderError.at(name, None, "the subject is empty")
        problem = header_problem(subject)
        if problem is not None:
            raise TemplateRenderError.at(name, None, f"the subject {problem}")
        if not text.strip():
            raise TemplateRenderError.at(name, None, "the text part is empty")
        return RenderedEmail(
            subject=subject, text=text, html=html, template=name, language=written_in
        )

    def render_document(
        self, template: str, language: str | None, context: Mapping[str, Any]
    ) -> RenderedDocument:
        """Render the whole of ``template`` (an HTML document, ``{% extends %}`` allowed) for a
        contact speaking ``language``: the same variant choice, strict sandbox, context and
        ``locale`` as :meth:`render`, with HTML autoescaping. Raises
        :class:`TemplateRenderError` (one line naming file and line) on any failure."""
        name, written_in, tag = self._resolve(template, language)
        variables = dict(context)
        variables["locale"] = tag
        try:
            # the compiled render function itself, not Template.render: Jinja would rewrite
            # the traceback, losing the template frames that name the failing line
            tmpl = self._html_env.get_template(name)
            html = "".join(tmpl.root_render_func(tmpl.new_context(variables)))
        except Exception as exc:
            raise as_render_error(exc, name) from exc
        if not html.strip():
            raise TemplateRenderError.at(name, None, "the letter is empty")
        return RenderedDocument(html=html, template=name, language=written_in)

    # -- checking ----------------------------------------------------------------------------

    def variants(self, template: str) -> list[str]:
        """Every file of ``template``: the default (if present) then the language variants,
        sorted (``ccm/appeal.j2``, ``ccm/appeal.fr.j2``)."""
        base = self._base(template)
        folder, _, stem = base.rpartition("/")
        directory = self.templates_dir / folder if folder else self.templates_dir
        prefix = f"{folder}/" if folder else ""
        found: list[str] = []
        if (directory / f"{stem}{SUFFIX}").is_file():
            found.append(f"{prefix}{stem}{SUFFIX}")
        if directory.is_dir():
            for path in sorted(directory.glob(f"{stem}.*{SUFFIX}")):
                middle = path.name[len(stem) + 1 : -len(SUFFIX)]
                if path.is_file() and normalise_tag(middle) == middle:
                    found.append(f"{prefix}{path.name}")
        return found

    def check(self, template: str, *, document: bool = False) -> list[str]:
        """Compile the default file and every language variant of ``template`` with their
        layouts; one line per problem (empty: all good). Finds syntax errors, missing or
        cyclic layouts, missing ``subject``/``text`` blocks (not for a ``document``: a
        letter template, rendered whole), a missing default file, and variables that are
        neither context names (:data:`CONTEXT_NAMES`) nor Jinja globals (strict mode would
        fail on those at render time)."""
        base = self._base(template)
        problems: list[str] = []
        files = self.variants(base)
        if f"{base}{SUFFIX}" not in files:
            problems.append(f"{base}{SUFFIX}: template not found (the default file is required)")
        required = () if document else REQUIRED_BLOCKS
        for name in files:
            problems.extend(self._check_file(name, required))
        return problems

    def _check_file(self, name: str, required: tuple[str, ...] = REQUIRED_BLOCKS) -> list[str]:
        env = self._text_env
        try:
            tmpl, parents = self._chain(env, name)
        except Exception as exc:
            return [as_render_error(exc, name).message]
        problems: list[str] = []
        blocks = set(tmpl.blocks).union(*(p.blocks for p in parents))
        for block in required:
            if block not in blocks:
                problems.append(f"{name}: no {{% block {block} %}}")
        allowed = CONTEXT_NAMES | set(env.globals)
        for file_name in (name, *(p.name for p in parents if p.name)):
            try:
                assert env.loader is not None
                source, filename, _ = env.loader.get_source(env, file_name)
                ast = env.parse(source, file_name, filename)
            except Exception as exc:  # already compiled once, so unlikely
                problems.append(as_render_error(exc, file_name).message)
                continue
            for var in sorted(jinja2.meta.find_undeclared_variables(ast) - allowed):
                line = next(
                    (
                        n.lineno
                        for n in ast.find_all(nodes.Name)
                        if n.name == var and n.ctx == "load"
                    ),
                    None,
                )
                problems.append(
                    TemplateRenderError.at(file_name, line, f"unknown variable {var!r}").message
                )
        return problems
