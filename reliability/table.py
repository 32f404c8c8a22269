"""The chaos table: one row per scenario, then one line per scenario with its notes and per-fault gaps."""

from __future__ import annotations

from stage import Result

COLUMNS = ("scenario", "min", "sent", "stored", "lost*", "in windows", "longest gap per speaker (s)",
           "fault gaps max/mean (s)", "mem peak MiB", "target met")


def _gaps(result: Result) -> str:
    return " ".join(f"{speaker.name}:{speaker.longest_gap:.2f}" for speaker in result.speakers) or "-"


def _fault_gaps(result: Result) -> str:
    gaps = result.fault_gaps()
    if not gaps:
        return "-"
    return f"{max(gaps):.2f}/{sum(gaps) / len(gaps):.2f} ({len(gaps)})"


def row(result: Result) -> tuple[str, ...]:
    if not result.speakers:
        return (result.scenario, "-", "-", "-", "-", "-", "-", "-", "-", "not run")
    return (
        result.scenario,
        f"{result.seconds / 60:.1f}",
        str(result.sent),
        str(result.stored),
        str(sum(speaker.lost for speaker in result.speakers)),
        str(sum(speaker.in_windows for speaker in result.speakers)),
        _gaps(result),
        _fault_gaps(result),
        f"{result.peak_rss_mib:.0f}",
        {True: "yes", False: "NO", None: "-"}[result.passed],
    )


def render(results: list[Result]) -> str:
    rows = [COLUMNS, *(row(result) for result in results)]
    widths = [max(len(line[index]) for line in rows) for index in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append("")
    lines.append("* lost: frames missing outside fault windows, beyond those the network plan dropped (never "
                 "delivered). in windows: missing between a fault and the speaker's next stored frame.")
    for result in results:
        details = [f"target: {result.target}"] if result.target else []
        if result.fault_labels:
            gaps = result.fault_gaps()
            details.append("faults (at s: audio lost): " + ", ".join(
                f"{label} at {at - result.started:.1f}: {gap:.2f}s"
                for label, (at, _), gap in zip(result.fault_labels, result.faults, gaps, strict=True)))
        odd = [f"{s.name}: {s.out_of_order} out of order, {s.corrupt} corrupt, {s.duplicates} duplicated, "
               f"{s.unexpected} unexpected" for s in result.speakers
               if s.out_of_order or s.corrupt or s.duplicates or s.unexpected]
        lost = [f"{s.name} lost " + ", ".join(f"{a - result.started:.1f}-{b - result.started + 0.02:.1f}s"
                                             for a, b in s.lost_runs[:4]) for s in result.speakers if s.lost]
        details += odd + lost + result.notes
        if result.exit_codes:
            details.append(f"recorder exit codes: {result.exit_codes}")
        if result.token_scanned_files:
            details.append(f"bot token IN {len(result.token_leaks)} LINES: {', '.join(result.token_leaks[:3])}"
                           if result.token_leaks else
                           f"bot token in none of the {result.token_scanned_files} files collected")
        lines.append(f"{result.scenario}: " + "; ".join(details))
    return "\n".join(lines)
