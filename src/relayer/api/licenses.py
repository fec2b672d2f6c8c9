"""License offers (created by the operator) and the deposits buyers made against them."""

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from relayer import licenses
from relayer.api.deps import ContextDep, OperatorDep
from relayer.licenses import LICENSE_ID_PATTERN, LicenseDetail, LicenseIn, LicenseOut

router = APIRouter(prefix="/v1/licenses", tags=["licenses"])


class LicenseList(BaseModel):
    licenses: list[LicenseOut]


@router.post(
    "",
    status_code=201,
    response_model=LicenseOut,
    dependencies=[OperatorDep],
    summary="Offer a license (operator token)",
)
def create_license(offer: LicenseIn, context: ContextDep) -> LicenseOut:
    with context.db.session() as session:
        return licenses.create(session, context.chain, offer)


@router.get("", response_model=LicenseList, summary="Every license offer")
def list_licenses(context: ContextDep) -> LicenseList:
    with context.db.session() as session:
        return LicenseList(licenses=licenses.list_all(session, context.chain))


@router.get(
    "/{license_id}",
    response_model=LicenseDetail,
    summary="A license with the deposits made against it and the epoch that split each",
)
def get_license(
    license_id: Annotated[str, Path(pattern=LICENSE_ID_PATTERN)], context: ContextDep
) -> LicenseDetail:
    with context.db.session() as session:
        return licenses.get(session, context.chain, license_id)
