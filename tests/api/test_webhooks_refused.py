"""Without WEBHOOK_ALLOW_PRIVATE a webhook to this machine or a private network is refused when it is made."""
from __future__ import annotations


async def test_a_webhook_to_a_private_address_is_refused_by_default(api, app_root):
    for url in ('http://127.0.0.1:8080/in', 'http://localhost/in', 'http://10.1.2.3/in', 'http://[::1]/in',
                'http://169.254.169.254/latest/meta-data'):
        answer = await api.post('/api/webhooks', json={'url': url, 'events': ['post.created']})
        assert answer.status_code == 400, url
        error = answer.json()['error']
        assert error['code'] == 'WEBHOOK_URL_REFUSED' and 'WEBHOOK_ALLOW_PRIVATE' in error['message'], url
    assert (await api.get('/api/webhooks')).json() == []
