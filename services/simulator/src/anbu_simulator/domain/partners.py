"""The simulated partners: who reports what (partner ids as registered in the demo seed)."""

from __future__ import annotations

from enum import StrEnum

from anbu_contracts import ArrearsType, MonitoringChannel, Utility
from anbu_contracts.signals import Activity


class Partner(StrEnum):
    """The simulated partners (ids as registered in the demo seed)."""

    TELECOM = "telecom-demo"
    IOT = "iot-demo"
    AI_CALL = "ai-call-demo"
    KEPCO = "kepco-demo"
    WATER = "water-demo"
    GAS = "gas-demo"
    NHIS = "nhis-demo"
    LANDLORD = "rent-demo"
    SSIS = "ssis-demo"
    POST = "post-demo"
    HOSPITAL = "hospital-demo"
    SAFETY_NET = "safety-net-demo"
    SOS = "sos-demo"


ARREARS_PARTNER: dict[ArrearsType, Partner] = {
    ArrearsType.ELECTRICITY: Partner.KEPCO,
    ArrearsType.WATER: Partner.WATER,
    ArrearsType.GAS: Partner.GAS,
    ArrearsType.TELECOM: Partner.TELECOM,
    ArrearsType.HEALTH_INSURANCE: Partner.NHIS,
    ArrearsType.RENT: Partner.LANDLORD,
}
MONTHLY_BILL_KRW: dict[ArrearsType, int] = {
    ArrearsType.ELECTRICITY: 42_000,
    ArrearsType.WATER: 18_000,
    ArrearsType.GAS: 55_000,
    ArrearsType.TELECOM: 33_000,
    ArrearsType.HEALTH_INSURANCE: 61_000,
    ArrearsType.RENT: 350_000,
}
HEARTBEAT_PARTNER: dict[MonitoringChannel, Partner] = {
    MonitoringChannel.PHONE: Partner.TELECOM,
    MonitoringChannel.SMART_PLUG: Partner.IOT,
    MonitoringChannel.MOTION_SENSOR: Partner.IOT,
    MonitoringChannel.WEARABLE: Partner.IOT,
    MonitoringChannel.APPLIANCE: Partner.IOT,
}
HEARTBEAT_ACTIVITY: dict[MonitoringChannel, Activity] = {
    MonitoringChannel.PHONE: Activity.UNLOCK,
    MonitoringChannel.SMART_PLUG: Activity.POWER,
    MonitoringChannel.MOTION_SENSOR: Activity.MOTION,
    MonitoringChannel.WEARABLE: Activity.STEP,
    MonitoringChannel.APPLIANCE: Activity.APPLIANCE_USE,
}


UTILITY_OF: dict[ArrearsType, Utility] = {
    ArrearsType.ELECTRICITY: Utility.POWER,
    ArrearsType.GAS: Utility.GAS,
}
