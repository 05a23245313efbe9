"""Alert rules as people and programs manage them (the API and the dashboard share this)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.alerts.repo import AlertRule, AlertsRepo
from app.i18n import lazy
from app.mtproto.errors import ServiceError
from app.search.query import QueryError, parse
from app.search.service import SearchRequest, SearchRequestError

if TYPE_CHECKING:
    from app.db.repos import Repos
    from app.search.service import SearchService

MAX_RULES = 200


class AlertService:
    def __init__(self, repos: Repos, alerts: AlertsRepo, search: SearchService) -> None:
        self.repos = repos
        self.alerts = alerts
        self.search = search

    async def _check(self, fields: dict[str, Any], current: AlertRule | None = None) -> dict[str, Any]:
        merged = {**(current.model_dump() if current else {}), **fields}
        if 'name' in fields:
            fields['name'] = fields['name'].strip()
            if not fields['name']:
                raise ServiceError(400, 'BAD_REQUEST', lazy('Give the rule a name.'))
        if 'query' in fields or 'channel_ids' in fields or 'tags' in fields:
            try:
                query = parse(merged['query'])
                if not query.has_text and not query.filters.channels and not merged.get('channel_ids') \
                        and not merged.get('tags'):
                    raise ServiceError(400, 'BAD_QUERY', lazy(
                        'A rule needs words to look for, or channels or tags to watch.'))
                await self.search.scope(SearchRequest(q=merged['query'], channel_ids=merged.get('channel_ids'),
                                                      tags=merged.get('tags') or []), query)
            except QueryError as error:
                raise ServiceError(400, 'BAD_QUERY', lazy('The query is malformed at column {column}: {message}',
                                                          column=error.column, message=str(error.message))) from None
            except SearchRequestError as error:
                raise ServiceError(400, 'BAD_QUERY', error.message) from None
        if fields.get('channel_ids'):
            found = await self.repos.channels.get_many(fields['channel_ids'])
            missing = [str(cid) for cid in fields['channel_ids'] if cid not in found]
            if missing:
                raise ServiceError(404, 'CHANNEL_NOT_FOUND', lazy(
                    'No stored channel with id {ids}; see the channel list.', ids=', '.join(missing)))
        if fields.get('account_id') and await self.repos.accounts.get(fields['account_id']) is None:
            raise ServiceError(404, 'ACCOUNT_NOT_FOUND', lazy('No account with this id; see the Accounts page.'))
        if 'tags' in fields:
            fields['tags'] = [tag.strip() for tag in fields['tags'] or [] if tag.strip()] or None
        if 'channel_ids' in fields:
            fields['channel_ids'] = list(dict.fromkeys(fields['channel_ids'] or [])) or None
        return fields

    async def create(self, **fields: Any) -> AlertRule:
        if len(await self.alerts.list_rules()) >= MAX_RULES:
            raise ServiceError(409, 'TOO_MANY_RULES', lazy('{count} rules is the most; delete one first.',
                                                           count=MAX_RULES))
        return await self.alerts.create_rule(**await self._check(fields))

    async def get(self, rule_id: str) -> AlertRule:
        rule = await self.alerts.rule(rule_id)
        if rule is None:
            raise ServiceError(404, 'RULE_NOT_FOUND', lazy('No alert rule with this id; see the list of rules.'))
        return rule

    async def update(self, rule_id: str, **fields: Any) -> AlertRule:
        rule = await self.get(rule_id)
        fields = await self._check(fields, rule)
        if not fields:
            return rule
        updated = await self.alerts.update_rule(rule_id, **fields)
        assert updated is not None
        return updated

    async def delete(self, rule_id: str) -> AlertRule:
        rule = await self.get(rule_id)
        await self.alerts.delete_rule(rule_id)
        return rule
