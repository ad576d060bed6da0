"""Start vn_perception_node with the package's parameter file.

    ros2 launch vn_perception vn_perception.launch.py input_topic:=/camera/depth/color/points \
        target_frame:=base_link device:=cuda
    ros2 launch vn_perception vn_perception.launch.py use_sim_time:=true     # with `ros2 bag play --clock`

Arguments (target_frame, device, model_path, mesh_catalog and mesh_source override the parameter file): config
(parameter file), input_topic (remaps the node's `points` input; several cameras: list them in the config's
input_topics), target_frame, device, model_path, mesh_catalog / mesh_source (class meshes for full mesh-frame
poses, e.g. mesh_catalog:=<data>/catalog mesh_source:=ycbv), use_sim_time, namespace, fastdds_profile
(a Fast DDS XML profile for large clouds, e.g. this package's config/fastdds_large_messages.xml, exported for
the processes this launch starts; '' = keep the environment's; the camera driver needs the same profile).
Outputs: <namespace>/vn_perception/{detections,markers,label_info}, /diagnostics.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    fastdds_profile = LaunchConfiguration("fastdds_profile")
    profile_given = IfCondition(PythonExpression(["'", fastdds_profile, "' != ''"]))
    arguments = [
        DeclareLaunchArgument("config", description="parameter file (ros__parameters of node vn_perception)",
                              default_value=PathJoinSubstitution(
                                  [FindPackageShare("vn_perception"), "config", "vn_perception.yaml"])),
        DeclareLaunchArgument("input_topic", default_value="points",
                              description="PointCloud2 topic the node's `points` input is remapped to"),
        DeclareLaunchArgument("target_frame", default_value="",
                              description="frame of the detections; '' = each cloud's own frame"),
        DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda | cuda:N"),
        DeclareLaunchArgument("model_path", default_value="",
                              description="classifier checkpoint; '' = the shipped model"),
        DeclareLaunchArgument("mesh_catalog", default_value="",
                              description="folder of the class meshes for pose refinement; '' = off"),
        DeclareLaunchArgument("mesh_source", default_value="",
                              description="catalog.csv source of the meshes (e.g. ycbv); '' = every source"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="take time from /clock (bag replay with --clock)"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
        DeclareLaunchArgument("fastdds_profile", default_value="",
                              description="Fast DDS profile XML for large messages; '' = keep the environment's"),
    ]
    profile = [SetEnvironmentVariable(name, fastdds_profile, condition=profile_given)
               for name in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")]
    node = Node(
        package="vn_perception",
        executable="vn_perception_node",
        name="vn_perception",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[
            LaunchConfiguration("config"),
            {   # these launch arguments override the parameter file
                "target_frame": ParameterValue(LaunchConfiguration("target_frame"), value_type=str),
                "device": ParameterValue(LaunchConfiguration("device"), value_type=str),
                "model_path": ParameterValue(LaunchConfiguration("model_path"), value_type=str),
                "mesh_catalog": ParameterValue(LaunchConfiguration("mesh_catalog"), value_type=str),
                "mesh_source": ParameterValue(LaunchConfiguration("mesh_source"), value_type=str),
                "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool),
            },
        ],
        remappings=[("points", LaunchConfiguration("input_topic"))],
    )
    return LaunchDescription(arguments + profile + [node])
