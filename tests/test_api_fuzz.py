"""Property-based requests to every operation of the served app's own /openapi.json (schemathesis).

Valid and invalid inputs alike must get an answer the description documents: no 5xx, a documented status and
content type, a body matching its schema (errors included, in the ErrorBody shape). A fixed seed and a bounded
number of examples per operation keep the run reproducible and well under two minutes.
"""
from __future__ import annotations

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}


# One of the suite's slowest, on purpose: 30 examples for each of about 30 operations against the app served in a
# process of its own; about 18 s alone, up to 55 s in a busy run.
@pytest.mark.timeout(240)
def test_every_operation_answers_as_documented_whatever_it_is_sent(served):
    schema = schemathesis.openapi.from_url(f'{served.url}/openapi.json')
    headers = {'Authorization': f'Bearer {served.env["API_TOKEN"]}'}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            @hypothesis.settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS, timeout=20)

            try:
                call()
            except hypothesis.errors.Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, operation.label  # nothing to send wrong: no parameters
            except Exception as error:  # one line per failing operation, so one run shows them all
                failures.append(f'{operation.label} ({mode.value}): {str(error)[:1500]}')
    assert not failures, '\n\n'.join(failures)
