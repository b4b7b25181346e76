"""Train: launch jobs (the same CLI as the terminal), watch progress, logs and curves; cancel, resume."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from core.errors import FvwError
from core.jobs import FINAL_STATES, JobRegistry, available_templates
from core.paths import runs_dir

st.title("Train")
st.caption("Jobs run as background processes with the same commands as the terminal; they survive a reload.")

registry = JobRegistry(runs_dir())
templates = available_templates()

with st.expander("Launch a job", expanded=not registry.list(limit=1)):
    if not templates:
        st.info("No job types are available in this checkout yet.")
    else:
        names = [t.name for t in templates]
        choice = st.selectbox(
            "Job",
            names,
            format_func=lambda n: f"{n} — {next(t for t in templates if t.name == n).description}",
        )
        tpl = next(t for t in templates if t.name == choice)
        values = {}
        for opt in tpl.options:
            key = f"opt-{tpl.name}-{opt.name}"
            if opt.choices:
                values[opt.name] = st.selectbox(
                    opt.name, opt.choices, index=opt.choices.index(opt.default), help=opt.help, key=key
                )
            elif isinstance(opt.default, bool):
                values[opt.name] = st.checkbox(opt.name, value=opt.default, help=opt.help, key=key)
            elif isinstance(opt.default, int):
                values[opt.name] = st.number_input(
                    opt.name, value=opt.default, step=1, help=opt.help, key=key
                )
            elif isinstance(opt.default, float):
                values[opt.name] = st.number_input(opt.name, value=opt.default, help=opt.help, key=key)
            else:
                values[opt.name] = st.text_input(opt.name, value=str(opt.default), help=opt.help, key=key)
        try:
            command = tpl.command(values)
            st.code(" ".join(command), language="bash")
            if st.button("Start", type="primary"):
                job = registry.launch(command, name=tpl.name, kind=tpl.kind)
                st.success(f"Started job {job.id}")
        except FvwError as e:
            st.error(str(e))


@st.fragment(run_every=2.0)
def _jobs() -> None:
    jobs = registry.list()
    if not jobs:
        st.info("No jobs yet.")
        return
    for job in jobs:
        icon = {"running": "⏳", "done": "✅", "failed": "❌", "cancelled": "⏹️"}.get(job.status, "•")
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.created))
        with st.expander(
            f"{icon} {job.name} · {job.status} · {started} · {job.id}", expanded=job.status == "running"
        ):
            st.progress(job.fraction, text=f"{job.fraction:.0%}")
            if job.error:
                st.error(job.error)
            rows = job.metrics()
            numeric = pd.DataFrame(rows).select_dtypes("number") if rows else pd.DataFrame()
            curves = [c for c in numeric.columns if c not in ("epoch", "step", "seconds")]
            if curves:
                x = "step" if "step" in numeric else None
                st.line_chart(numeric.set_index(x)[curves] if x else numeric[curves])
            st.code(job.log_tail(20) or "(no output yet)", language="text")
            c1, c2 = st.columns(2)
            if job.status not in FINAL_STATES and c1.button("Cancel", key=f"cancel-{job.id}"):
                registry.cancel(job.id)
                st.rerun()
            if job.status in ("failed", "cancelled") and c2.button("Resume", key=f"resume-{job.id}"):
                try:
                    registry.resume(job.id)
                except FvwError as e:
                    st.error(str(e))
                st.rerun()


st.subheader("Jobs")
_jobs()
