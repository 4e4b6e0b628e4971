"""A first look at omnitenant: the tenant context across threads and asyncio tasks.

Run it with ``./dev example``. The full example site (tenants on their own hosts) replaces
this script as the main job once the request flow lands.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from omnitenant_context import IsolationType, TenantContext


@dataclass(frozen=True)
class Customer:
    tenant_id: str
    isolation_type: str = IsolationType.SCHEMA
    schema_name: str = ""
    database_alias: str = ""
    cache_namespace: str = ""


def current() -> str:
    tenant = TenantContext.get_tenant()
    return "master" if TenantContext.is_master() else (tenant.tenant_id if tenant else "-")


def in_thread(customer: Customer, lines: list[str]) -> None:
    with TenantContext.use_tenant(customer):
        lines.append(f"thread  {customer.tenant_id:7} sees {current()}")


async def in_task(customer: Customer) -> str:
    with TenantContext.use_tenant(customer):
        await asyncio.sleep(0)
        return f"task    {customer.tenant_id:7} sees {current()}"


def main() -> None:
    customers = [Customer(name, schema_name=name) for name in ("acme", "globex", "initech")]
    lines: list[str] = []
    threads = [threading.Thread(target=in_thread, args=(c, lines)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    async def tasks() -> list[str]:
        return list(await asyncio.gather(*(in_task(c) for c in customers)))

    lines.extend(asyncio.run(tasks()))
    with TenantContext.use_tenant(customers[0]):
        with TenantContext.use_master_db():
            lines.append(f"nested  master inside acme sees {current()}")
        lines.append(f"nested  back in acme sees {current()}")
    lines.append(f"outside every scope sees {current()}")
    print("\n".join(sorted(lines[:6]) + lines[6:]))


if __name__ == "__main__":
    main()
