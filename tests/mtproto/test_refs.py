import pytest

from app.mtproto.refs import ChannelIdRef, InviteRef, RefError, UsernameRef, parse_ref, parse_refs


@pytest.mark.parametrize(('raw', 'expected'), [
    ('@durov', UsernameRef('durov')),
    ('durov', UsernameRef('durov')),
    ('  Durov_News  ', UsernameRef('durov_news')),
    ('https://t.me/durov', UsernameRef('durov')),
    ('http://t.me/durov/', UsernameRef('durov')),
    ('t.me/durov', UsernameRef('durov')),
    ('t.me/durov/123', UsernameRef('durov', 123)),
    ('https://t.me/durov/123?single', UsernameRef('durov', 123)),
    ('https://t.me/s/durov', UsernameRef('durov')),
    ('t.me/s/durov/77', UsernameRef('durov', 77)),
    ('https://telegram.me/durov', UsernameRef('durov')),
    ('telegram.dog/durov', UsernameRef('durov')),
    ('https://www.t.me/durov', UsernameRef('durov')),
    ('tg://resolve?domain=durov', UsernameRef('durov')),
    ('tg://resolve?domain=durov&post=5', UsernameRef('durov', 5)),
    ('https://t.me/+AbCdEf123456', InviteRef('AbCdEf123456')),
    ('t.me/+AbCd-Ef_123456', InviteRef('AbCd-Ef_123456')),
    ('https://t.me/joinchat/AbCdEf123456', InviteRef('AbCdEf123456')),
    ('tg://join?invite=AbCdEf123456', InviteRef('AbCdEf123456')),
    ('https://t.me/c/123456/45', ChannelIdRef(123456, 45)),
    ('t.me/c/123456', ChannelIdRef(123456)),
    ('tg://privatepost?channel=123456&post=9', ChannelIdRef(123456, 9)),
    ('-100123456', ChannelIdRef(123456)),
])
def test_every_reference_form_parses(raw, expected):
    assert parse_ref(raw) == expected


@pytest.mark.parametrize(('raw', 'reason'), [
    ('', 'empty'),
    ('   ', 'empty'),
    ('@ab', 'not a valid username'),
    ('1abcdef', 'not a valid username'),
    ('bad-name!', 'not a valid username'),
    ('name_', 'not a valid username'),
    ('a' * 33, 'not a valid username'),
    ('123456', 'not a channel id'),
    ('-123456', 'not a channel id'),
    ('-100', 'not a channel id'),
    ('https://example.com/durov', 'not a t.me link'),
    ('ftp://t.me/durov', 'not a Telegram link'),
    ('https://t.me/', 'names no channel'),
    ('https://t.me/joinchat', 'without its invite hash'),
    ('https://t.me/+ab', 'malformed invite hash'),
    ('https://t.me/c/abc/1', 'without a channel number'),
    ('https://t.me/durov/abc', 'malformed post number'),
    ('https://t.me/durov/1/2', 'too many parts'),
    ('https://t.me/addstickers/pack', 'not a channel'),
    ('tg://resolve', 'no domain'),
    ('tg://settings', 'does not name a channel'),
    ('two words', 'contains spaces'),
    ('example.com', 'not a Telegram link'),
])
def test_malformed_references_say_why(raw, reason):
    with pytest.raises(RefError) as info:
        parse_ref(raw)
    assert reason in str(info.value)


def test_several_refs_one_per_line():
    assert parse_refs('@one_chan\n\n t.me/two_chan \r\nhello world!!\n@one_chan\n') == [
        '@one_chan', 't.me/two_chan', 'hello world!!']


def test_str_gives_a_canonical_form():
    assert str(parse_ref('t.me/Durov')) == '@durov'
    assert str(parse_ref('t.me/joinchat/AbCdEf123456')) == 'https://t.me/+AbCdEf123456'
    assert str(parse_ref('t.me/c/55/1')) == '-1000000000055'
    assert parse_ref('-1000000000055') == parse_ref('-10055') == ChannelIdRef(55)
