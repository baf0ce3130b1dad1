"""SQL scripts that migrations run on PostgreSQL, one file per migration that needs one."""

from __future__ import annotations


def split_sql_script(script: str) -> list[str]:
    """Split a script into statements at semicolons that end a line, except inside
    dollar-quoted function bodies. (The driver prepares each statement, and a prepared
    statement holds exactly one command.)"""
    statements: list[str] = []
    current: list[str] = []
    in_body = False
    for line in script.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("--")):
            continue
        current.append(line)
        if line.count("$$") % 2 == 1:
            in_body = not in_body
        if not in_body and line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements
