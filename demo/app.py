"""The Gradio demo: chat with a MOSS-format agent and watch its tools work.

    moss-agent demo                      # http://127.0.0.1:7860, this machine only
    moss-agent demo --host 0.0.0.0 --port 8080 --share
    python -m demo --model path/to/model --adapter path/to/adapter

What a person sees: replies streaming token by token; inner thoughts folded away; one box per
tool call (the command and its argument, a spinner while it runs, then its result and duration);
plugin switches that change the next turn's meta-instruction; local or web search, with
documents added from the page; the model in use and each turn's latency and token counts.

Each browser session owns a ``demo.session.Session``: its own Agent (history, plugin
switches) and its own local search index, so two people never see each other's conversation
or documents. The heavy model backend is loaded once and shared; the chat event runs with
``concurrency_limit=1`` so turns from several sessions queue rather than interleave on the one
model. Every failure (a plugin, the model, no network) is shown in the chat; no handler raises.

Gradio is imported inside ``build_app`` and ``launch`` only: importing this module is cheap.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.options import add_model_flags, agent_settings
from demo.messages import error_message, user_message
from demo.session import (
    MAX_UPLOAD_BYTES,
    SEARCH_MODES,
    UPLOAD_SUFFIXES,
    AgentFactory,
    Session,
    default_agent_factory,
)

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"  # private by default: --host 0.0.0.0 opens it to the network
DEFAULT_PORT = 7860
EXAMPLES = (
    "What is 4817 * 63?",
    "Solve x^2 - 5*x + 6 = 0",
    "Which planet is the largest?",
    "Who were the first people to walk on the Moon?",
    "Hello! What can you do?",
)


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------
CSS = """
#stats, #model-info, #doc-count { font-size: 0.9em; opacity: 0.85; }
#title h1 { margin-bottom: 0; }
"""

HEADER = """# moss-agent
Chat with a small model that calls tools in the MOSS plugin format. Tool calls appear as their
own boxes (click to open); the model's inner thoughts are folded away above its reply."""


def build_app(
    agent_factory: AgentFactory | None = None,
    *,
    corpora: Sequence[str | Path] | None = None,
) -> gr.Blocks:
    """The demo page. ``agent_factory`` makes one Agent per browser session.

    Share heavy backends between the agents it makes (``SharedModel`` does); the default
    loads the embedded model once. ``corpora`` are indexed into every session's local search
    (default: the shipped sample corpus).

    >>> from agent.backends.scripted import ScriptedBackend
    >>> app = build_app(lambda: Agent(ScriptedBackend()))   # doctest: +SKIP
    >>> app.launch(server_name="127.0.0.1")                  # doctest: +SKIP
    """
    import gradio as gr

    factory = agent_factory if agent_factory is not None else default_agent_factory()

    def new_session() -> Session:
        return Session(factory(), corpora=corpora)

    def ensure(session: Session | None) -> tuple[Session | None, str | None]:
        """The session, created now if the page has none yet; or why it cannot be."""
        if session is not None:
            return session, None
        try:
            return new_session(), None
        except Exception as exc:  # no model, bad corpus: say so on the page
            log.exception("could not start a session")
            return None, f"Could not start the agent: {exc}"

    def close_session(session: Session | None) -> None:
        if session is not None:
            session.close()

    with gr.Blocks(title="moss-agent demo", analytics_enabled=False) as app:
        state = gr.State(None, delete_callback=close_session)
        with gr.Row():
            with gr.Column(scale=3):
                gr.Markdown(HEADER, elem_id="title")
                model_md = gr.Markdown("**Model:** loading…", elem_id="model-info")
                chatbot = gr.Chatbot(
                    label="Chat",
                    elem_id="chat",
                    height=560,
                    feedback_options=None,
                    buttons=["copy", "copy_all"],  # no "share": it would post to a hub
                    # One bubble per message: grouped, Gradio 6 can leave a finished thought
                    # box open when several messages arrive in one update.
                    group_consecutive_messages=False,
                    placeholder="Ask a question, or pick an example below.",
                )
                with gr.Row():
                    msg = gr.Textbox(
                        placeholder="Ask something, e.g. What is 4817 * 63?",
                        show_label=False,
                        elem_id="msg",
                        scale=8,
                        autofocus=True,
                        max_length=4000,
                    )
                    send = gr.Button("Send", variant="primary", elem_id="send", scale=1)
                    stop_button = gr.Button("⏹ Stop", elem_id="stop", scale=1, min_width=80)
                stats_md = gr.Markdown("", elem_id="stats")
                gr.Examples(examples=[[e] for e in EXAMPLES], inputs=[msg], label="Examples")
            with gr.Column(scale=1, min_width=280):
                plugins_box = gr.CheckboxGroup(
                    choices=[],
                    label="Plugins",
                    info="Switch tools on or off; the next turn's instructions follow.",
                    elem_id="plugins",
                )
                with gr.Accordion("Meta-instruction of the next turn", open=False):
                    meta_box = gr.Textbox(
                        show_label=False,
                        lines=8,
                        max_lines=20,
                        interactive=False,
                        elem_id="meta",
                    )
                search_mode = gr.Radio(
                    list(SEARCH_MODES),
                    value="local",
                    label="Search",
                    info=(
                        "What the model's Search looks in. local: a few dozen short sample "
                        "articles (planets, history, science, art…) and your uploads · web: "
                        "DuckDuckGo (needs network)"
                    ),
                    elem_id="search-mode",
                )
                doc_md = gr.Markdown("", elem_id="doc-count")
                upload = gr.File(
                    label="Add documents (.txt, .md, .jsonl; 2 MB each)",
                    file_count="multiple",
                    file_types=list(UPLOAD_SUFFIXES),
                    type="filepath",
                    elem_id="upload",
                )
                upload_md = gr.Markdown("", elem_id="upload-status")
                reset = gr.Button("🗑 New conversation", elem_id="reset")

        # -- handlers: each takes and returns the session; none raises ----------------------
        def on_load(session: Session | None) -> tuple[Any, ...]:
            session, problem = ensure(session)
            if session is None:
                return (
                    None,
                    [error_message(problem or "no agent")],
                    "**Model:** not loaded",
                    "",
                    gr.CheckboxGroup(choices=[], value=[]),
                    "",
                )
            return (
                session,
                session.messages,
                session.model_info(),
                session.index_info(),
                gr.CheckboxGroup(choices=session.plugin_choices(), value=session.enabled_plugins()),
                session.agent.meta_instruction,
            )

        def on_send(text: str, session: Session | None) -> tuple[Any, ...]:
            session, problem = ensure(session)
            if session is None:
                return [user_message(text), error_message(problem or "no agent")], "", None
            return session.submit(text), "", session

        def on_run(session: Session | None) -> Iterator[tuple[Any, ...]]:
            if session is None:  # on_send already said why
                yield gr.skip(), gr.skip(), None
                return
            for messages in session.run_next():
                yield messages, session.summary, session

        def on_stop(session: Session | None) -> Any:
            if session is None:
                return gr.skip()
            shown = session.stop()
            # While a turn runs, its own stream draws the stopped chat at the next token. This
            # reply comes back on another channel and may arrive after that drawing (or after
            # the next waiting message's): sending the chat from here could put back a view
            # from before the stop.
            return gr.skip() if session.running else shown

        def on_plugins(names: list[str], session: Session | None) -> tuple[Any, ...]:
            session, problem = ensure(session)
            if session is None:
                return problem or "", None
            session.set_enabled_plugins(names or [])
            return session.agent.meta_instruction, session

        def on_search_mode(mode: str, session: Session | None) -> Session | None:
            session, _ = ensure(session)
            if session is not None:
                session.set_search_mode(mode)
            return session

        def on_upload(files: list[str] | None, session: Session | None) -> tuple[Any, ...]:
            session, problem = ensure(session)
            if session is None:
                return "", problem or "", None, None
            report = session.add_documents(files or [])
            return session.index_info(), report, None, session

        def on_reset(session: Session | None) -> tuple[Any, ...]:
            session, problem = ensure(session)
            if session is None:
                return [error_message(problem or "no agent")], "", None
            session.reset()
            return [], "", session

        app.load(
            on_load,
            inputs=[state],
            outputs=[state, chatbot, model_md, doc_md, plugins_box, meta_box],
        )
        # Sending is two steps. First, outside the queue, the message joins the session's
        # line, shows in the chat, and the box empties at once (so what is typed next is
        # never wiped by a streaming update). Then the turn queues for the one model that
        # serves every session: one at a time (concurrency_limit=1), from Enter or the button
        # alike. Each send queues one run, and each run takes the oldest waiting message.
        gr.on(
            triggers=[msg.submit, send.click],
            fn=on_send,
            inputs=[msg, state],
            outputs=[chatbot, msg, state],
            queue=False,
            trigger_mode="multiple",
            api_visibility="private",
        ).then(
            on_run,
            inputs=[state],
            outputs=[chatbot, stats_md, state],
            concurrency_limit=1,
            concurrency_id="model",
            show_progress="minimal",
            trigger_mode="multiple",  # a run per send, even while one is pending
            api_visibility="private",
        )
        # Outside the queue: a Stop must not wait behind the turn it stops. The running turn
        # ends at the model's next token, waiting messages never start; all stay on screen,
        # marked as stopped.
        stop_button.click(on_stop, inputs=[state], outputs=[chatbot], queue=False)
        plugins_box.input(on_plugins, inputs=[plugins_box, state], outputs=[meta_box, state])
        search_mode.input(on_search_mode, inputs=[search_mode, state], outputs=[state])
        upload.upload(on_upload, inputs=[upload, state], outputs=[doc_md, upload_md, upload, state])
        reset.click(on_reset, inputs=[state], outputs=[chatbot, stats_md, state])
        # The chat's own trash icon empties the display; the agent must forget as well.
        chatbot.clear(on_reset, inputs=[state], outputs=[chatbot, stats_md, state])
    app.queue(max_size=64)  # beyond this many waiting events, new ones are refused
    return app


def launch(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    share: bool = False,
    *,
    agent_factory: AgentFactory | None = None,
    corpora: Sequence[str | Path] | None = None,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Serve the demo on ``host:port``; a public share link only if ``share``.

    ``block=False`` returns once the server runs in a background thread (tests); stop it with
    ``app.close()``.
    """
    app = build_app(agent_factory, corpora=corpora)
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        max_file_size=MAX_UPLOAD_BYTES,
        show_error=True,
        quiet=quiet,
        ssr_mode=False,
        footer_links=["gradio", "settings"],
        css=CSS,
    )
    return app


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``moss-agent demo`` (also ``python -m demo``)."""
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    parser.add_argument(
        "--share", action="store_true", help="also create a public gradio.live link"
    )
    add_model_flags(parser)
    parser.add_argument(
        "--corpus",
        action="append",
        default=[],
        help="a .jsonl file or folder of .txt/.md to index for local search (repeatable)",
    )


def run_demo(args: argparse.Namespace) -> int:
    """Load the model once (so the first visitor does not wait), then serve until Ctrl-C."""
    from plugins.search import SAMPLE_CORPUS

    factory = default_agent_factory(
        args.model,
        args.adapter,
        args.device,
        base_only=args.base_only,
        alternatives=args.alternatives,
        **agent_settings(args),
    )
    print("Loading the model…", flush=True)
    try:
        print(f"Model: {factory.template().backend.name}", flush=True)
    except Exception as exc:  # still serve: the page explains the problem and retries
        log.error("the model could not be loaded: %s", exc)
        print(f"warning: the model could not be loaded ({exc}); the page will say so.", flush=True)
    corpora = [SAMPLE_CORPUS, *args.corpus]
    app = launch(
        args.host,
        args.port,
        args.share,
        agent_factory=factory,
        corpora=corpora,
        block=False,
        quiet=True,
    )
    # Our own lines: Gradio's talk of `share=True` means nothing to a command-line user.
    print(f"moss-agent demo on {app.local_url}", flush=True)
    if args.host in ("127.0.0.1", "localhost", "::1"):
        print("  (this machine only; --host 0.0.0.0 serves the network)", flush=True)
    if args.share:
        print(f"  public link: {app.share_url} (anyone with it can use this demo)", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    app.block_thread()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m demo [--host 127.0.0.1] [--port 7860] [--share] ...``"""
    parser = argparse.ArgumentParser(prog="moss-agent demo", description=__doc__.split("\n\n")[0])
    add_demo_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run_demo(args)


__all__ = [
    "CSS",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "EXAMPLES",
    "add_demo_arguments",
    "build_app",
    "launch",
    "main",
    "run_demo",
]
