"""The error a Telegram method answers with: an rpc_error with Telegram's code and name."""


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f'{code} {message}')
        self.code = code
        self.message = message


def bad_request(name: str) -> RpcError:
    return RpcError(400, name)


def unauthorized(name: str = 'AUTH_KEY_UNREGISTERED') -> RpcError:
    return RpcError(401, name)
