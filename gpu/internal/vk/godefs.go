//go:build ignore

// Input of "go tool cgo -godefs" (run by gen.go): the Vulkan structs and
// constants the runtime uses, laid out as the C headers lay them out.

package vk

/*
#define VK_USE_64_BIT_PTR_DEFINES 0
#include <vulkan/vulkan.h>
*/
import "C"

// Structs.

type BaseOutStructure C.VkBaseOutStructure
type ApplicationInfo C.VkApplicationInfo
type InstanceCreateInfo C.VkInstanceCreateInfo
type LayerProperties C.VkLayerProperties
type ExtensionProperties C.VkExtensionProperties

type DebugUtilsLabelEXT C.VkDebugUtilsLabelEXT
type DebugUtilsObjectNameInfoEXT C.VkDebugUtilsObjectNameInfoEXT
type DebugUtilsMessengerCallbackDataEXT C.VkDebugUtilsMessengerCallbackDataEXT
type DebugUtilsMessengerCreateInfoEXT C.VkDebugUtilsMessengerCreateInfoEXT
type ValidationFeaturesEXT C.VkValidationFeaturesEXT

type PhysicalDeviceLimits C.VkPhysicalDeviceLimits
type PhysicalDeviceSparseProperties C.VkPhysicalDeviceSparseProperties
type PhysicalDeviceProperties C.VkPhysicalDeviceProperties
type PhysicalDeviceProperties2 C.VkPhysicalDeviceProperties2
type PhysicalDeviceSubgroupProperties C.VkPhysicalDeviceSubgroupProperties
type ConformanceVersion C.VkConformanceVersion
type PhysicalDeviceDriverProperties C.VkPhysicalDeviceDriverProperties
type PhysicalDeviceMaintenance3Properties C.VkPhysicalDeviceMaintenance3Properties

type PhysicalDeviceFeatures C.VkPhysicalDeviceFeatures
type PhysicalDeviceFeatures2 C.VkPhysicalDeviceFeatures2
type PhysicalDevice8BitStorageFeatures C.VkPhysicalDevice8BitStorageFeatures
type PhysicalDevice16BitStorageFeatures C.VkPhysicalDevice16BitStorageFeatures
type PhysicalDeviceShaderFloat16Int8Features C.VkPhysicalDeviceShaderFloat16Int8Features
type PhysicalDeviceVulkan11Features C.VkPhysicalDeviceVulkan11Features
type PhysicalDeviceVulkan12Features C.VkPhysicalDeviceVulkan12Features
type PhysicalDeviceShaderIntegerDotProductFeatures C.VkPhysicalDeviceShaderIntegerDotProductFeatures
type PhysicalDeviceShaderClockFeaturesKHR C.VkPhysicalDeviceShaderClockFeaturesKHR
type PhysicalDeviceShaderIntegerDotProductProperties C.VkPhysicalDeviceShaderIntegerDotProductProperties
type PhysicalDeviceShaderSMBuiltinsPropertiesNV C.VkPhysicalDeviceShaderSMBuiltinsPropertiesNV
type PhysicalDeviceShaderCorePropertiesAMD C.VkPhysicalDeviceShaderCorePropertiesAMD
type PhysicalDeviceSubgroupSizeControlProperties C.VkPhysicalDeviceSubgroupSizeControlProperties
type PhysicalDeviceSubgroupSizeControlFeatures C.VkPhysicalDeviceSubgroupSizeControlFeatures
type PipelineShaderStageRequiredSubgroupSizeCreateInfo C.VkPipelineShaderStageRequiredSubgroupSizeCreateInfo

type MemoryType C.VkMemoryType
type MemoryHeap C.VkMemoryHeap
type PhysicalDeviceMemoryProperties C.VkPhysicalDeviceMemoryProperties
type Extent3D C.VkExtent3D
type QueueFamilyProperties C.VkQueueFamilyProperties

type DeviceQueueCreateInfo C.VkDeviceQueueCreateInfo
type DeviceCreateInfo C.VkDeviceCreateInfo

type BufferCreateInfo C.VkBufferCreateInfo
type MemoryRequirements C.VkMemoryRequirements
type MemoryAllocateInfo C.VkMemoryAllocateInfo
type MappedMemoryRange C.VkMappedMemoryRange

type ShaderModuleCreateInfo C.VkShaderModuleCreateInfo
type DescriptorSetLayoutBinding C.VkDescriptorSetLayoutBinding
type DescriptorSetLayoutCreateInfo C.VkDescriptorSetLayoutCreateInfo
type PushConstantRange C.VkPushConstantRange
type PipelineLayoutCreateInfo C.VkPipelineLayoutCreateInfo
type SpecializationMapEntry C.VkSpecializationMapEntry
type SpecializationInfo C.VkSpecializationInfo
type PipelineShaderStageCreateInfo C.VkPipelineShaderStageCreateInfo
type ComputePipelineCreateInfo C.VkComputePipelineCreateInfo

type DescriptorPoolSize C.VkDescriptorPoolSize
type DescriptorPoolCreateInfo C.VkDescriptorPoolCreateInfo
type DescriptorSetAllocateInfo C.VkDescriptorSetAllocateInfo
type DescriptorImageInfo C.VkDescriptorImageInfo
type DescriptorBufferInfo C.VkDescriptorBufferInfo
type WriteDescriptorSet C.VkWriteDescriptorSet

type CommandPoolCreateInfo C.VkCommandPoolCreateInfo
type CommandBufferAllocateInfo C.VkCommandBufferAllocateInfo
type CommandBufferInheritanceInfo C.VkCommandBufferInheritanceInfo
type CommandBufferBeginInfo C.VkCommandBufferBeginInfo
type BufferCopy C.VkBufferCopy
type MemoryBarrier C.VkMemoryBarrier
type BufferMemoryBarrier C.VkBufferMemoryBarrier
type SubmitInfo C.VkSubmitInfo
type FenceCreateInfo C.VkFenceCreateInfo
type QueryPoolCreateInfo C.VkQueryPoolCreateInfo

// Result codes.

const (
	Success                   = C.VK_SUCCESS
	NotReady                  = C.VK_NOT_READY
	Timeout                   = C.VK_TIMEOUT
	Incomplete                = C.VK_INCOMPLETE
	ErrorOutOfHostMemory      = C.VK_ERROR_OUT_OF_HOST_MEMORY
	ErrorOutOfDeviceMemory    = C.VK_ERROR_OUT_OF_DEVICE_MEMORY
	ErrorInitializationFailed = C.VK_ERROR_INITIALIZATION_FAILED
	ErrorDeviceLost           = C.VK_ERROR_DEVICE_LOST
	ErrorMemoryMapFailed      = C.VK_ERROR_MEMORY_MAP_FAILED
	ErrorLayerNotPresent      = C.VK_ERROR_LAYER_NOT_PRESENT
	ErrorExtensionNotPresent  = C.VK_ERROR_EXTENSION_NOT_PRESENT
	ErrorFeatureNotPresent    = C.VK_ERROR_FEATURE_NOT_PRESENT
	ErrorIncompatibleDriver   = C.VK_ERROR_INCOMPATIBLE_DRIVER
	ErrorTooManyObjects       = C.VK_ERROR_TOO_MANY_OBJECTS
	ErrorFormatNotSupported   = C.VK_ERROR_FORMAT_NOT_SUPPORTED
	ErrorFragmentedPool       = C.VK_ERROR_FRAGMENTED_POOL
	ErrorUnknown              = C.VK_ERROR_UNKNOWN
	ErrorOutOfPoolMemory      = C.VK_ERROR_OUT_OF_POOL_MEMORY
	ErrorFragmentation        = C.VK_ERROR_FRAGMENTATION
	ErrorValidationFailedEXT  = C.VK_ERROR_VALIDATION_FAILED_EXT
)

// Structure types.

const (
	StructureTypeApplicationInfo                                   = C.VK_STRUCTURE_TYPE_APPLICATION_INFO
	StructureTypeInstanceCreateInfo                                = C.VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
	StructureTypeDebugUtilsMessengerCreateInfoEXT                  = C.VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
	StructureTypeValidationFeaturesEXT                             = C.VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT
	StructureTypePhysicalDeviceProperties2                         = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
	StructureTypePhysicalDeviceSubgroupProperties                  = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES
	StructureTypePhysicalDeviceDriverProperties                    = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES
	StructureTypePhysicalDeviceMaintenance3Properties              = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES
	StructureTypePhysicalDeviceFeatures2                           = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
	StructureTypePhysicalDevice8BitStorageFeatures                 = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES
	StructureTypePhysicalDevice16BitStorageFeatures                = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES
	StructureTypePhysicalDeviceShaderFloat16Int8Features           = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES
	StructureTypePhysicalDeviceVulkan11Features                    = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES
	StructureTypePhysicalDeviceVulkan12Features                    = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES
	StructureTypePhysicalDeviceShaderIntegerDotProductFeatures     = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES
	StructureTypePhysicalDeviceShaderClockFeaturesKHR              = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR
	StructureTypePhysicalDeviceShaderIntegerDotProductProperties   = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES
	StructureTypePhysicalDeviceShaderSMBuiltinsPropertiesNV        = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV
	StructureTypePhysicalDeviceShaderCorePropertiesAMD             = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD
	StructureTypePhysicalDeviceSubgroupSizeControlProperties       = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES
	StructureTypePhysicalDeviceSubgroupSizeControlFeatures         = C.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES
	StructureTypePipelineShaderStageRequiredSubgroupSizeCreateInfo = C.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO
	StructureTypeDeviceQueueCreateInfo                             = C.VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
	StructureTypeDeviceCreateInfo                                  = C.VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
	StructureTypeBufferCreateInfo                                  = C.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
	StructureTypeMemoryAllocateInfo                                = C.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
	StructureTypeMappedMemoryRange                                 = C.VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE
	StructureTypeShaderModuleCreateInfo                            = C.VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
	StructureTypeDescriptorSetLayoutCreateInfo                     = C.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
	StructureTypePipelineLayoutCreateInfo                          = C.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
	StructureTypePipelineShaderStageCreateInfo                     = C.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
	StructureTypeComputePipelineCreateInfo                         = C.VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
	StructureTypeDescriptorPoolCreateInfo                          = C.VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
	StructureTypeDescriptorSetAllocateInfo                         = C.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
	StructureTypeWriteDescriptorSet                                = C.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
	StructureTypeCommandPoolCreateInfo                             = C.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
	StructureTypeCommandBufferAllocateInfo                         = C.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
	StructureTypeCommandBufferBeginInfo                            = C.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
	StructureTypeMemoryBarrier                                     = C.VK_STRUCTURE_TYPE_MEMORY_BARRIER
	StructureTypeBufferMemoryBarrier                               = C.VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER
	StructureTypeSubmitInfo                                        = C.VK_STRUCTURE_TYPE_SUBMIT_INFO
	StructureTypeFenceCreateInfo                                   = C.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
	StructureTypeQueryPoolCreateInfo                               = C.VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO
)

// Enums and flags.

const (
	APIVersion1_0 = C.VK_API_VERSION_1_0
	APIVersion1_1 = C.VK_API_VERSION_1_1
	APIVersion1_2 = C.VK_API_VERSION_1_2
	APIVersion1_3 = C.VK_API_VERSION_1_3

	MaxPhysicalDeviceNameSize = C.VK_MAX_PHYSICAL_DEVICE_NAME_SIZE
	MaxExtensionNameSize      = C.VK_MAX_EXTENSION_NAME_SIZE
	MaxDriverNameSize         = C.VK_MAX_DRIVER_NAME_SIZE
	MaxMemoryTypes            = C.VK_MAX_MEMORY_TYPES
	MaxMemoryHeaps            = C.VK_MAX_MEMORY_HEAPS
	WholeSize                 = C.VK_WHOLE_SIZE
	QueueFamilyIgnored        = C.VK_QUEUE_FAMILY_IGNORED

	PhysicalDeviceTypeOther         = C.VK_PHYSICAL_DEVICE_TYPE_OTHER
	PhysicalDeviceTypeIntegratedGPU = C.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU
	PhysicalDeviceTypeDiscreteGPU   = C.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
	PhysicalDeviceTypeVirtualGPU    = C.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU
	PhysicalDeviceTypeCPU           = C.VK_PHYSICAL_DEVICE_TYPE_CPU

	QueueGraphicsBit = C.VK_QUEUE_GRAPHICS_BIT
	QueueComputeBit  = C.VK_QUEUE_COMPUTE_BIT
	QueueTransferBit = C.VK_QUEUE_TRANSFER_BIT

	MemoryPropertyDeviceLocalBit  = C.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
	MemoryPropertyHostVisibleBit  = C.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
	MemoryPropertyHostCoherentBit = C.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
	MemoryPropertyHostCachedBit   = C.VK_MEMORY_PROPERTY_HOST_CACHED_BIT
	MemoryHeapDeviceLocalBit      = C.VK_MEMORY_HEAP_DEVICE_LOCAL_BIT

	BufferUsageTransferSrcBit   = C.VK_BUFFER_USAGE_TRANSFER_SRC_BIT
	BufferUsageTransferDstBit   = C.VK_BUFFER_USAGE_TRANSFER_DST_BIT
	BufferUsageUniformBufferBit = C.VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT
	BufferUsageStorageBufferBit = C.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
	SharingModeExclusive        = C.VK_SHARING_MODE_EXCLUSIVE

	DescriptorTypeStorageBuffer              = C.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
	DescriptorTypeUniformBuffer              = C.VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER
	DescriptorPoolCreateFreeDescriptorSetBit = C.VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT
	ShaderStageComputeBit                    = C.VK_SHADER_STAGE_COMPUTE_BIT
	PipelineBindPointCompute                 = C.VK_PIPELINE_BIND_POINT_COMPUTE
	CommandPoolCreateTransientBit            = C.VK_COMMAND_POOL_CREATE_TRANSIENT_BIT
	CommandPoolCreateResetCommandBufferBit   = C.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT
	CommandBufferLevelPrimary                = C.VK_COMMAND_BUFFER_LEVEL_PRIMARY
	CommandBufferUsageOneTimeSubmitBit       = C.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT
	FenceCreateSignaledBit                   = C.VK_FENCE_CREATE_SIGNALED_BIT
	QueryTypeTimestamp                       = C.VK_QUERY_TYPE_TIMESTAMP
	QueryResult64Bit                         = C.VK_QUERY_RESULT_64_BIT
	QueryResultWaitBit                       = C.VK_QUERY_RESULT_WAIT_BIT
	CommandBufferUsageSimultaneousUseBit     = C.VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT

	PipelineStageTopOfPipeBit     = C.VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT
	PipelineStageComputeShaderBit = C.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
	PipelineStageTransferBit      = C.VK_PIPELINE_STAGE_TRANSFER_BIT
	PipelineStageBottomOfPipeBit  = C.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT
	PipelineStageHostBit          = C.VK_PIPELINE_STAGE_HOST_BIT
	PipelineStageAllCommandsBit   = C.VK_PIPELINE_STAGE_ALL_COMMANDS_BIT

	AccessShaderReadBit    = C.VK_ACCESS_SHADER_READ_BIT
	AccessShaderWriteBit   = C.VK_ACCESS_SHADER_WRITE_BIT
	AccessTransferReadBit  = C.VK_ACCESS_TRANSFER_READ_BIT
	AccessTransferWriteBit = C.VK_ACCESS_TRANSFER_WRITE_BIT
	AccessHostReadBit      = C.VK_ACCESS_HOST_READ_BIT
	AccessHostWriteBit     = C.VK_ACCESS_HOST_WRITE_BIT

	DebugUtilsMessageSeverityVerboseBitEXT = C.VK_DEBUG_UTILS_MESSAGE_SEVERITY_VERBOSE_BIT_EXT
	DebugUtilsMessageSeverityInfoBitEXT    = C.VK_DEBUG_UTILS_MESSAGE_SEVERITY_INFO_BIT_EXT
	DebugUtilsMessageSeverityWarningBitEXT = C.VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT
	DebugUtilsMessageSeverityErrorBitEXT   = C.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT
	DebugUtilsMessageTypeGeneralBitEXT     = C.VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT
	DebugUtilsMessageTypeValidationBitEXT  = C.VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT
	DebugUtilsMessageTypePerformanceBitEXT = C.VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT

	ValidationFeatureEnableSynchronizationValidationEXT = C.VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT

	SubgroupFeatureBasicBit      = C.VK_SUBGROUP_FEATURE_BASIC_BIT
	SubgroupFeatureVoteBit       = C.VK_SUBGROUP_FEATURE_VOTE_BIT
	SubgroupFeatureArithmeticBit = C.VK_SUBGROUP_FEATURE_ARITHMETIC_BIT
	SubgroupFeatureBallotBit     = C.VK_SUBGROUP_FEATURE_BALLOT_BIT
	SubgroupFeatureShuffleBit    = C.VK_SUBGROUP_FEATURE_SHUFFLE_BIT
)
