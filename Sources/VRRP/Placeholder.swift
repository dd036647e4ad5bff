import VRRPCore
